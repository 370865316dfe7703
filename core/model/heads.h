// Task heads on top of the encoder's tokens. Each expert keeps its own head (head.* tensors, never
// merged) with this config stored beside it:
//   classifier: logits = head.weight · pool(tokens) + head.bias, pool = class token or mean of
//               the patch tokens; head.weight [K, D].
//   zeroshot:   CLIP's zero-shot classifier: z = head.projection · (class token), logits =
//               exp(head.logit_scale) · normalize(z) · normalize(head.text)ᵀ; head.text [K, P] (one
//               text embedding per class), head.projection [P, D] (the base's visual projection),
//               head.logit_scale [1] (log of the scale, as CLIP stores it). Without head.projection
//               the encoder holds the projection (open_clip) and headTokens passes its embedding.
//               The task-vectors release's ClassificationHead form: head.weight [K, P] and
//               head.bias [K] instead of text and scale, logits = head.weight · normalize(z) + head.bias
//               (`normalize` false: z as it is).
//   dense:      per patch token, head.weight [K·p·p, D] gives a p×p block of K outputs; blocks are
//               put back in place (pixel shuffle): [N, K, H, W]. Segmentation: K classes
//               (per-pixel logits); regression: K channels (per-pixel values).
//   dense_probe: the linear probe of DINOv2's dense protocol: the patch tokens of the blocks in
//               `layers` (each through the final LayerNorm) concatenated, [N, L·D, g, g] →
//               batch norm (head.bn.weight/bias/running_mean/running_var [L·D], eps 1e-5,
//               momentum 0.1) → 1×1 map (head.weight [K, L·D], head.bias [K]) → bilinear
//               upsampling to the input's size (align_corners false): [N, K, H, W].
// A classifier may read several blocks too (`layers`): its pooled features are the blocks'
// concatenated, head.weight [K, L·D].
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/model/vit.h"

namespace ms::core::model {

enum class HeadKind { Classifier, Dense, ZeroShot, DenseProbe };
enum class Pooling { ClassToken, MeanPatches };

struct HeadConfig {
    HeadKind kind = HeadKind::Classifier;
    int outputs = 10;                      // classes, or channels of a dense head
    Pooling pooling = Pooling::ClassToken;  // classifier only
    int patchSize = 4;                     // dense only: the encoder's patch size
    std::vector<int> layers;                // blocks read (negative: from the end); empty: the final tokens
    bool normalize = true;                  // zero-shot only: L2-normalise the image embedding first
};

std::string headKindName(HeadKind k);
HeadKind parseHeadKind(const std::string& s);
std::string poolingName(Pooling p);
Pooling parsePooling(const std::string& s);

// head.weight / head.bias, initialised N(0, 0.02) / 0 from `seed` (classifier and dense heads;
// a probe's batch norm starts as the identity). `width`: the encoder's D.
ParamMap initHead(const HeadConfig& head, int width, std::uint64_t seed);
// What the head reads, from `tokens` [N, T, D·L] (class token first; L blocks concatenated) →
// logits [N, K] or dense outputs [N, K, H, W]. `training`: a probe's batch norm uses the batch's
// statistics and updates its running ones in place.
// `height` × `width`: the input images' size (VitFeatures), which a dense head's output has (the
// patch grid rounded up, its padding cropped off); 0: a square grid, inferred from the tokens.
at::Tensor headForward(const HeadConfig& head, const ParamMap& params, const at::Tensor& tokens, bool training = false,
                       int height = 0, int width = 0);

// The blocks a head reads, 0-based, in its `layers` order; throws InvalidArgument naming a layer
// outside the encoder's `depth` blocks.
std::vector<int> headBlocks(const HeadConfig& head, int depth);
// Asks a forward for the blocks `heads` read (normalised as the probe protocol does).
void requestHeadBlocks(ForwardOptions& options, const HeadConfig& head, int depth);
// The head's input from one forward: the final tokens, or its blocks' tokens concatenated
// along the features ([N, T, L·D]).
at::Tensor headTokens(const HeadConfig& head, const VitFeatures& features, int depth);

}  // namespace ms::core::model
