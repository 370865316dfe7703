// A checkpoint's encoder as people have it → the canonical encoder of vit.h. Finds the layout and
// the prefix from the patch-embedding tensor's name (timm `patch_embed.proj.weight`, HF CLIP
// `embeddings.patch_embedding.weight`, HF DINOv2 `embeddings.patch_embeddings.projection.weight`)
// under any prefix (`module.`, `backbone.`, `vision_model.`, `model.visual.trunk.`, none ...);
// nested state dicts (`state_dict`, `model`) are unwrapped by the reader. The architecture comes
// from the shapes, then a Hugging Face config.json beside the checkpoint, then the kit's fields.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/io/source_factory.h"
#include "core/model/vit.h"
#include "core/model/vit_layouts.h"

namespace ms::core::model {

struct FoundLayout {
    VitLayout layout = VitLayout::Timm;
    std::string prefix;  // stripped from every name that has it
};

// Throws FormatError naming `file` and listing some names when no known layout fits. `hint`:
// "auto" or a layout name (then only that layout is looked for).
FoundLayout findLayout(const ParamMap& raw, const std::string& hint, const std::string& file);
FoundLayout findLayoutInNames(const std::vector<std::string>& names, const std::string& hint, const std::string& file);

// The names under the prefix, renamed to what the layout's rules read (HF CLIP names keep
// their `vision_model.` root); tensors outside the prefix go to `others` (text towers,
// projections, logit scales, heads of HF models).
ParamMap stripPrefix(const ParamMap& raw, const FoundLayout& found, ParamMap* others = nullptr);

// Canonical tensors → the names (and shapes) they have in the file `found` describes: the
// inverse of stripPrefix + toCanonical (learned merges hand their tensors back to the engine so).
ParamMap toFileNames(const ParamMap& canonical, const FoundLayout& found, const VitConfig& config);

// How many blocks `before`N.* holds (the largest N + 1; 0 when none).
int countBlocks(const ParamMap& params, const std::string& before);

// The architecture the shapes imply (heads: width / 64, the ViT convention, 0 when 64 does not divide the width; activation and
// epsilon the layout's: CLIP quick_gelu and 1e-5, others gelu and 1e-6). Throws FormatError.
VitConfig inferConfig(const ParamMap& stripped, VitLayout layout, const std::string& file);

// What a whole pickled module (torch.save(module), read by the restricted unpickler) states of its
// architecture, from the source's pickle.module.* / pickle.attr.* metadata: attention heads,
// LayerNorm ε and the activation's class (QuickGELU or GELU) of its first block. Throws
// FormatError naming `file` for an activation the encoder does not run.
void applyPickledArchitecture(VitConfig& config, const io::Metadata& metadata, const FoundLayout& found, const std::string& file);

// Applies a Hugging Face config.json (CLIPVisionConfig, CLIPConfig's vision_config, Dinov2Config):
// hidden_size, num_hidden_layers, num_attention_heads, intermediate_size or mlp_ratio,
// patch_size, image_size, num_channels, hidden_act, layer_norm_eps; or open_clip's
// open_clip_config.json (model_cfg.quick_gelu, vision_cfg.width/layers/patch_size/mlp_ratio/
// head_width). Throws FormatError.
void applyHfConfig(VitConfig& config, const std::string& configJson);
// config.json (else open_clip_config.json) beside a checkpoint file (or inside a model folder);
// empty when there is none.
std::string configJsonFor(const std::string& checkpoint);

struct Encoder {
    FoundLayout found;
    VitConfig config;
    ParamMap params;              // canonical encoder tensors
    ParamMap head;                // head.weight / head.bias found in the checkpoint (timm head.*, HF classifier.*, torchvision heads.head.*)
    at::Tensor projection;        // CLIP's visual projection [P, D] beside the encoder (HF visual_projection.weight); undefined otherwise
    ParamMap others;              // everything the encoder does not use (outside the prefix, or unused names under it)
    std::vector<std::string> unused;  // names inside the prefix the encoder does not use
};

// Loads `file` (any supported format, floating tensors as float32) and resolves its encoder.
// `config`, when given, is the architecture to check against (experts against their base);
// else it is found (shapes, config.json, `fields`). Mismatches throw FormatError naming the
// file and the tensors.
Encoder loadEncoder(const std::string& file, const std::string& layoutHint, const std::map<std::string, std::string>& fields,
                    const VitConfig* config = nullptr, const io::OpenOptions& open = {});

}  // namespace ms::core::model
