// Between checkpoints (TensorSource, plain bytes) and torch tensors.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/io/tensor_source.h"
#include "core/model/vit.h"

namespace ms::core::model {

// Every floating tensor of the source as a float32 tensor (copied), under its own name, minus
// `stripPrefix` when a name starts with it; others are skipped.
ParamMap loadParams(const io::TensorSource& source, const std::string& stripPrefix = "");

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
