// Opens any supported checkpoint by looking at it: safetensors (single or sharded), PyTorch zip
// (.pt/.pth/.bin/.ckpt), HDF5, or a Hugging Face model directory.
#pragma once

#include <memory>
#include <string>

#include "core/io/tensor_source.h"
#include "core/io/torch_reader.h"

namespace ms::core::io {

struct OpenOptions {
    TorchReadOptions torch;
};

// Throws IoError/FormatError naming the file and the reason.
std::unique_ptr<TensorSource> openCheckpoint(const std::string& path, const OpenOptions& options = {});

}  // namespace ms::core::io
