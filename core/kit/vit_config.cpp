#include "core/kit/vit_config.h"

#include "core/errors.h"

namespace ms::core::kit {

void VitConfig::validate() const {
    auto bad = [](const std::string& m) { throw InvalidArgument("ViT config: " + m); };
    if (imageSize <= 0 || patchSize <= 0 || imageSize % patchSize != 0) bad("image size must be a multiple of the patch size");
    if (channels <= 0 || width <= 0 || depth < 0 || heads <= 0) bad("sizes must be positive");
    if (width % heads != 0) bad("width must be divisible by the number of heads");
    if (mlpRatio <= 0) bad("mlp ratio must be positive");
    if (projection < 0) bad("the projection's size must be positive (0: none)");
}

std::string activationName(Activation a) { return a == Activation::Gelu ? "gelu" : "quick_gelu"; }

Activation parseActivation(const std::string& name) {
    if (name == "gelu") return Activation::Gelu;
    if (name == "quick_gelu") return Activation::QuickGelu;
    throw InvalidArgument("unknown activation '" + name + "' (gelu, quick_gelu)");
}

}  // namespace ms::core::kit
