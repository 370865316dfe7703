// The architecture of a Vision Transformer encoder, as plain values (no torch here: the UI and
// the kit manifest use it). Canonical parameter names follow timm's ViT (see vit.h).
#pragma once

#include <string>

namespace ms::core::kit {

enum class Activation { Gelu, QuickGelu };

struct VitConfig {
    int imageSize = 28;
    int channels = 1;
    int patchSize = 4;
    int width = 64;
    int depth = 4;
    int heads = 4;
    double mlpRatio = 4.0;
    Activation activation = Activation::Gelu;
    bool layerScale = false;  // blocks.N.ls1.gamma / ls2.gamma (DINOv2)
    bool patchBias = true;    // CLIP's patch embedding has no bias
    bool preNorm = false;     // a LayerNorm after the embeddings (CLIP's pre_layrnorm; timm norm_pre)
    double eps = 1e-6;        // LayerNorm epsilon (timm/DINOv2 1e-6, CLIP 1e-5)
    int projection = 0;       // CLIP's visual projection inside the encoder (open_clip `proj`): its output size; 0: none

    int grid() const { return imageSize / patchSize; }
    int tokens() const { return grid() * grid() + 1; }
    int mlpWidth() const { return static_cast<int>(width * mlpRatio); }
    // Throws InvalidArgument for inconsistent values (width not divisible by heads, ...).
    void validate() const;
};

std::string activationName(Activation a);
Activation parseActivation(const std::string& name);

}  // namespace ms::core::kit
