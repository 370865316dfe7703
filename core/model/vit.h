// A Vision Transformer encoder in LibTorch, written as a function of its parameters: weights
// are a name → tensor map in the canonical layout (timm's names), and vitForward uses whatever
// tensors it is given — a checkpoint's, a merge's (zero-copy views over the engine's buffers) or
// autograd leaves whose gradients AdaMerging/CALM need. There is no module to re-allocate.
//
// Canonical names: cls_token [1,1,D], pos_embed [1,T,D], patch_embed.proj.{weight [D,C,p,p],
// bias [D]}, norm_pre.{weight,bias} (preNorm), blocks.N.{norm1,norm2}.{weight,bias},
// blocks.N.attn.qkv.{weight [3D,D], bias} (or its parts blocks.N.attn.{q,k,v}.{weight [D,D], bias}),
// blocks.N.attn.proj.{weight,bias},
// blocks.N.mlp.fc1.{weight [H,D], bias}, blocks.N.mlp.fc2.{weight [D,H], bias},
// blocks.N.ls1.gamma / ls2.gamma [D] (layerScale), norm.{weight,bias}, proj [P, D] (CLIP's visual
// projection where the checkpoint keeps it in the encoder: open_clip; config.projection = P).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/kit/vit_config.h"

namespace ms::core::model {

// The architecture is the kit's description (torch-free, core/kit/vit_config.h); the encoder
// here runs it.
using kit::Activation;
using kit::VitConfig;
using kit::activationName;
using kit::parseActivation;

using ParamMap = std::map<std::string, at::Tensor>;

struct ParamShape {
    std::string name;
    std::vector<std::int64_t> shape;
};

// Every parameter the config needs, in a fixed order.
std::vector<ParamShape> vitParamShapes(const VitConfig& config);
// blocks.N.attn.qkv.weight → blocks.N.attn.q.weight (part 'q', 'k' or 'v'; the same for .bias):
// the fused projection held as its three parts ([D, D] and [D] each), as Hugging Face layouts
// store it (toCanonical's QkvForm::Parts). Any other name comes back unchanged.
std::string qkvPartName(const std::string& fusedName, char part);
// The same parameters with every q/k/v held apart fused into attn.qkv.* (copies); the rest as is.
ParamMap fusedQkv(const ParamMap& params);

// Fresh weights: N(0, 0.02) truncated at ±2σ for matrices and embeddings, zero biases, unit
// LayerNorm weights, layer scale 1e-5·1 ... deterministic for a seed.
ParamMap initVit(const VitConfig& config, std::uint64_t seed);

// A low-rank adapter beside one block (SIMO's representation re-alignment):
// x ← block(x) + up · down · x, with x the block's input. down [r, D], up [D, r].
struct Adapter {
    at::Tensor down, up;
};

// Called with the input of each linear layer of a block, [N, T, in], and the module it feeds
// ("blocks.B.attn.qkv", "blocks.B.attn.proj", "blocks.B.mlp.fc1", "blocks.B.mlp.fc2": the
// parameter is module + ".weight"). RegMean's statistics are these inputs' Gram matrices.
using LinearInputFn = std::function<void(const std::string& module, const at::Tensor& input)>;

struct ForwardOptions {
    std::vector<int> keepBlocks;                     // also return the output of these blocks (0-based)
    const std::vector<Adapter>* adapters = nullptr;  // one per block, or none
    const LinearInputFn* linearInputs = nullptr;  // sees every block's linear inputs
    bool normBlocks = false;  // kept blocks through the final LayerNorm (DINOv2's get_intermediate_layers(norm=True))
};

struct VitFeatures {
    at::Tensor tokens;               // [N, T, D]: class token then patch tokens, final LayerNorm
    std::vector<at::Tensor> blocks;  // the requested intermediate blocks' outputs, [N, T, D]
    std::vector<int> blockIndices;   // which block each of `blocks` is (ascending)
    at::Tensor embedding;            // [N, P]: proj · (final class token), when the encoder has a projection
    int height = 0, width = 0;       // of the input images (the patch grid covers them, padded)
};

// images: [N, C, H, W] float32, any H and W: position embeddings are interpolated to the patch
// grid (bicubic, as timm does); a side that is not a multiple of the patch size is padded with
// zeros at the bottom / right to the grid (dense heads crop back to H × W). Throws
// InvalidArgument naming a missing or misshaped parameter.
VitFeatures vitForward(const VitConfig& config, const ParamMap& params, const at::Tensor& images,
                       const ForwardOptions& options = {});

// vitForward in pieces, for merges that go block by block on running activations (RegMean++):
// the tokens entering block 0 (patch embedding, class token, position embeddings, norm_pre) and
// one block. vitForward(...).tokens = LayerNorm_norm(block_{B−1}(... block_0(vitEmbed(x)))).
at::Tensor vitEmbed(const VitConfig& config, const ParamMap& params, const at::Tensor& images);
// `attentionMask`: added to the attention logits ([T, T]; CLIP's text tower passes its causal mask).
at::Tensor vitBlock(const VitConfig& config, const ParamMap& params, int block, const at::Tensor& x,
                    const LinearInputFn* linearInputs = nullptr, const at::Tensor& attentionMask = {});

// Position embeddings [1, 1 + g0², D] resized to a g×g (or gridHeight × gridWidth) grid (class token kept).
at::Tensor resizePosEmbed(const at::Tensor& pos, int grid);
at::Tensor resizePosEmbed(const at::Tensor& pos, int gridHeight, int gridWidth);

// Checks that `params` holds exactly what the config needs: returns one line per missing,
// unexpected or misshaped tensor (empty when all is well).
std::vector<std::string> checkParams(const VitConfig& config, const ParamMap& params);

}  // namespace ms::core::model
