// YAML merge recipes. The mergekit field names are used wherever the meaning is the same:
//   merge_method, base_model, models: [{model, parameters: {weight, density, ...}}],
//   parameters: {lambda, density, ...}, dtype (out_dtype)
// plus a `mergescope:` section for our own fields (task names, include/exclude patterns, λ block
// curve and overrides, topk_scope default). A recipe without that section is read as mergekit
// means it: TIES/magnitude top-k per tensor, `normalize` ↔ disjoint mean/sum, `linear` = average,
// a list for `lambda` = a curve over the blocks. Saving writes every choice explicitly, so a
// saved recipe loads back to the same merge.
#pragma once

#include <optional>
#include <string>

#include "core/merge/merge_spec.h"

namespace ms::core::merge {

// Relative model paths are resolved against `baseDir`. Throws InvalidArgument naming
// `sourceName` and the field for anything malformed or unsupported.
MergeSpec parseRecipe(const std::string& yaml, const std::string& baseDir, const std::string& sourceName);
MergeSpec loadRecipe(const std::string& path);
std::string saveRecipe(const MergeSpec& spec);
// Atomic write of saveRecipe(spec).
void writeRecipe(const MergeSpec& spec, const std::string& path);

std::string dtypeRecipeName(io::DType t);  // "float32", "bfloat16", ...
std::optional<io::DType> parseDtypeRecipeName(const std::string& name);  // also fp16, bf16, ...

}  // namespace ms::core::merge
