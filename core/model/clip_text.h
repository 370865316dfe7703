// CLIP's text tower, run to make zero-shot classifiers from class names (the classifier of the
// CLIP papers, FusionBench and the task-vectors release): each class name is put into every
// prompt template, tokenized, encoded, normalised, averaged over the templates and normalised
// again. Read from the base checkpoint as people have it:
//   Hugging Face CLIPModel  text_model.embeddings.{token_embedding,position_embedding}.weight,
//                           text_model.encoder.layers.N.{layer_norm1, self_attn.{q,k,v,out}_proj,
//                           layer_norm2, mlp.fc1, mlp.fc2}, text_model.final_layer_norm,
//                           text_projection.weight [P, W]
//   OpenAI CLIP / open_clip token_embedding.weight, positional_embedding [C, W],
//                           transformer.resblocks.N.{ln_1, attn.in_proj_*, attn.out_proj, ln_2,
//                           mlp.c_fc, mlp.c_proj}, ln_final, text_projection [W, P]
// under any prefix. The blocks are the ViT's (vitBlock) with a causal mask; the text embedding is
// the final LayerNorm's output at the end-of-text token (the first position holding the largest
// id, as OpenAI's CLIP pools) times the projection.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/model/vit.h"

namespace ms::core::text {
class ClipTokenizer;
}

namespace ms::core::model {

struct ClipTextTower {
    VitConfig config;     // width, depth, heads, mlpRatio, activation, eps of the text blocks
    ParamMap params;      // token_embedding [V, W], pos_embed [1, C, W], blocks.N.*, norm.*, proj [P, W]
    std::string layout;   // hf_clip | open_clip
    std::string prefix;   // before the tower's names in the file
    int contextLength() const;
    int embedDim() const;
};

// Finds the text tower among a checkpoint's tensors (`raw`: every tensor of the file under its own
// name). `configJson`: a config.json / open_clip_config.json beside it ("" if none) for the number
// of heads and the activation (defaults: width / 64 heads, QuickGELU, ε 1e-5: OpenAI's). Throws
// FormatError naming `file` and what is missing (a vision-only checkpoint has no text tower).
ClipTextTower findTextTower(const ParamMap& raw, const std::string& file, const std::string& configJson = "");

// Text embeddings [N, P] (not normalised) of token ids [N, contextLength] (int64).
at::Tensor encodeText(const ClipTextTower& tower, const at::Tensor& ids);

// The zero-shot classifier [classes, P]: per class, the normalised mean over `templates` ("{}" is
// the class name) of the normalised text embeddings. `cancelled` is polled between classes.
at::Tensor zeroShotClassifier(const ClipTextTower& tower, const text::ClipTokenizer& tokenizer, const std::vector<std::string>& classes,
                              const std::vector<std::string>& templates, const std::function<bool()>& cancelled = {});

}  // namespace ms::core::model
