// Task heads on top of the encoder's tokens. Each expert keeps its own head (head.* tensors, never
// merged) with this config stored beside it:
//   classifier: logits = head.weight · pool(tokens) + head.bias, pool = class token or mean of
//               the patch tokens; head.weight [K, D].
//   zeroshot:   CLIP's zero-shot classifier: z = head.projection · (class token), logits =
//               exp(head.logit_scale) · normalize(z) · normalize(head.text)ᵀ; head.text [K, P] (one
//               text embedding per class), head.projection [P, D] (the base's visual projection),
//               head.logit_scale [1] (log of the scale, as CLIP stores it).
//   dense:      per patch token, head.weight [K·p·p, D] gives a p×p block of K outputs; blocks are
//               put back in place (pixel shuffle): [N, K, H, W]. Segmentation: K classes
//               (per-pixel logits); regression: K channels (per-pixel values).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "core/model/vit.h"

namespace ms::core::model {

enum class HeadKind { Classifier, Dense, ZeroShot };
enum class Pooling { ClassToken, MeanPatches };

struct HeadConfig {
    HeadKind kind = HeadKind::Classifier;
    int outputs = 10;                      // classes, or channels of a dense head
    Pooling pooling = Pooling::ClassToken;  // classifier only
    int patchSize = 4;                     // dense only: the encoder's patch size
};

std::string headKindName(HeadKind k);
HeadKind parseHeadKind(const std::string& s);
std::string poolingName(Pooling p);
Pooling parsePooling(const std::string& s);

// head.weight / head.bias, initialised N(0, 0.02) / 0 from `seed` (classifier and dense heads).
ParamMap initHead(const HeadConfig& head, int width, std::uint64_t seed);
// tokens [N, T, D] (class token first) → logits [N, K] or dense outputs [N, K, H, W].
at::Tensor headForward(const HeadConfig& head, const ParamMap& params, const at::Tensor& tokens);

}  // namespace ms::core::model
