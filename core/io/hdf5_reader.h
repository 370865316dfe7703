// Reads weights stored as HDF5 datasets: nested groups map to dotted tensor names
// ("blocks/0/attn/qkv/weight" → "blocks.0.attn.qkv.weight"); string attributes of the root
// group are the metadata. float16 as h5py writes it, bool as h5py's enum, and bf16 as uint16
// tagged with the attribute mergescope_dtype="BF16" are understood.
#pragma once

#include <memory>
#include <string>

#include "core/io/tensor_source.h"

namespace ms::core::io {

std::unique_ptr<TensorSource> openHdf5(const std::string& path);

}  // namespace ms::core::io
