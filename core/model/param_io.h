// Between checkpoints (TensorSource, plain bytes) and torch tensors.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/io/tensor_source.h"
#include "core/model/vit.h"

namespace ms::core::model {

// Every floating tensor of the source as a float32 tensor, under its own name, minus
// `stripPrefix` when a name starts with it; others are skipped. float32 tensors whose bytes are
// aligned are views of what the source read (a mapped file's pages, kept alive by the tensor):
// no copy, and read-only — nothing may write into a loaded tensor in place. Other dtypes are
// converted into tensors of their own.
ParamMap loadParams(const io::TensorSource& source, const std::string& stripPrefix = "");

// Drops this process's resident pages of every tensor of `params` that views a mapped checkpoint
// (they stay in the page cache and are read back on the next use); tensors in owned memory are
// left alone. Called after a pass over an expert, so N experts are never resident at once.
void releaseResident(const ParamMap& params);

// Replaces every tensor of `params` by a detached copy that requires gradients (an optimiser's
// leaves) and returns them, in map order.
// (Batch-norm running statistics, "*running_*", are copied but not made trainable.)
std::vector<at::Tensor> makeTrainable(ParamMap& params);

// A float32 tensor viewing `data` without copying (the caller keeps the buffer alive).
at::Tensor viewFloats(const float* data, const std::vector<std::int64_t>& shape);

}  // namespace ms::core::model

namespace ms::core::model {

// Writes float32 tensors (contiguous or not) to a safetensors file, atomically.
void writeParams(const std::string& path, const ParamMap& params, const io::Metadata& metadata);

}  // namespace ms::core::model
