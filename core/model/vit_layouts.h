// Weight layouts of ViT checkpoints people have, mapped to and from the canonical (timm) names
// of vit.h. Documented per layout in docs/models.md:
//   timm          blocks.N.attn.qkv.weight, ...                       (identity)
//   hf_clip       vision_model.encoder.layers.N.self_attn.q_proj, ... (q/k/v fused into qkv;
//                 class_embedding [D] → cls_token [1,1,D]; position_embedding [T,D] → [1,T,D];
//                 pre_layrnorm → norm_pre; post_layernorm → norm; no patch bias)
//   hf_dinov2     encoder.layer.N.attention.attention.query, ...     (q/k/v fused; layer_scale*.lambda1
//                 → ls*.gamma; mask_token unused)
#pragma once

#include <string>
#include <vector>

#include "core/model/vit.h"

namespace ms::core::model {

enum class VitLayout { Timm, HfClip, HfDinov2 };

std::string layoutName(VitLayout layout);
VitLayout parseLayout(const std::string& name);  // throws InvalidArgument listing the layouts
// Guesses the layout from characteristic names; Timm when nothing else fits.
VitLayout detectLayout(const std::vector<std::string>& names);

// External names → canonical. Tensors the layout does not use (heads, buffers, text towers)
// are listed in `unused` (when given). Shapes are checked later by checkParams.
ParamMap toCanonical(const ParamMap& external, VitLayout layout, const VitConfig& config,
                     std::vector<std::string>* unused = nullptr);
// Canonical → the layout's names and shapes (for exporting and round-trip tests).
ParamMap fromCanonical(const ParamMap& canonical, VitLayout layout, const VitConfig& config);

}  // namespace ms::core::model
