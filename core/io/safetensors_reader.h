// Reads safetensors files through mmap without copying tensor bytes, and Hugging Face sharded
// checkpoints (`*.safetensors.index.json` plus its shards) as one source.
#pragma once

#include <memory>
#include <string>

#include "core/io/tensor_source.h"

namespace ms::core::io {

std::unique_ptr<TensorSource> openSafetensors(const std::string& path);
// `indexPath` is the `*.safetensors.index.json` file; shards are resolved beside it.
std::unique_ptr<TensorSource> openShardedSafetensors(const std::string& indexPath);

}  // namespace ms::core::io
