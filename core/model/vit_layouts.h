// Weight layouts of ViT checkpoints people have, mapped to and from the canonical (timm) names
// of vit.h. Documented per layout in docs/models.md:
//   timm          blocks.N.attn.qkv.weight, ...                       (identity)
//   hf_clip       vision_model.encoder.layers.N.self_attn.q_proj, ... (q/k/v fused into qkv;
//                 class_embedding [D] → cls_token [1,1,D]; position_embedding [T,D] → [1,T,D];
//                 pre_layrnorm → norm_pre; post_layernorm → norm; no patch bias)
//   hf_dinov2     encoder.layer.N.attention.attention.query, ...     (q/k/v fused; layer_scale*.lambda1
//                 → ls*.gamma; mask_token unused)
//   open_clip     transformer.resblocks.N.attn.in_proj_weight, ...   (OpenAI CLIP and open_clip's own ViT,
//                 the `visual` tower: in_proj is qkv; class_embedding/positional_embedding as hf_clip;
//                 ln_pre → norm_pre; ln_post → norm; mlp.c_fc/c_proj → fc1/fc2; ls_1/ls_2 → ls1/ls2;
//                 `proj` [D, P] is the visual projection, outside the encoder)
//   torchvision   encoder.layers.encoder_layer_N.self_attention.in_proj_weight, ... (in_proj is qkv;
//                 conv_proj → patch_embed; class_token; encoder.pos_embedding; mlp.0/mlp.3 → fc1/fc2;
//                 encoder.ln → norm; heads.head is the classifier)
#pragma once

#include <string>
#include <vector>

#include "core/model/vit.h"

namespace ms::core::model {

enum class VitLayout { Timm, HfClip, HfDinov2, OpenClip, Torchvision };

std::string layoutName(VitLayout layout);
VitLayout parseLayout(const std::string& name);  // throws InvalidArgument listing the layouts
const std::vector<VitLayout>& allLayouts();
// Guesses the layout from characteristic names; Timm when nothing else fits.
VitLayout detectLayout(const std::vector<std::string>& names);

// How a layout that stores q, k and v apart (Hugging Face CLIP and DINOv2) comes into the
// canonical names: fused into blocks.N.attn.qkv.* (a copy, [3D, D]) or kept as its three parts
// blocks.N.attn.{q,k,v}.* (views of what was read: no copy; vitForward, checkParams and
// fromCanonical take either form).
enum class QkvForm { Fused, Parts };

// External names → canonical. Tensors the layout does not use (heads, buffers, text towers)
// are listed in `unused` (when given). Shapes are checked later by checkParams.
ParamMap toCanonical(const ParamMap& external, VitLayout layout, const VitConfig& config,
                     std::vector<std::string>* unused = nullptr, QkvForm qkv = QkvForm::Fused);
// Canonical (either QkvForm) → the layout's names and shapes (for exporting and round-trip tests).
ParamMap fromCanonical(const ParamMap& canonical, VitLayout layout, const VitConfig& config);

}  // namespace ms::core::model
