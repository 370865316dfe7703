// Writing checkpoints tensor by tensor: the caller describes every tensor up front and fills
// each one's bytes on request, so a merge streams straight into the output file. Outputs are
// atomic (see AtomicFile).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/io/tensor_source.h"
#include "core/jobs/progress.h"

namespace ms::core::io {

struct TensorToWrite {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
};

// Writes the contiguous bytes of tensor `index` (dtypeSize × numel of them) to dst.
using TensorFiller = std::function<void(std::size_t index, std::byte* dst)>;

struct WriteOptions {
    Metadata metadata;                // stored in the file (safetensors __metadata__, HDF5 attrs)
    std::uint64_t maxShardBytes = 0;  // safetensors: shard above this size (0 = never)
};

// Returns the files written. Throws IoError/InvalidArgument; leaves nothing behind on error.
std::vector<std::string> writeSafetensors(const std::string& path,
                                          const std::vector<TensorToWrite>& tensors,
                                          const TensorFiller& fill, const WriteOptions& options,
                                          ProgressSink& progress = nullProgress(),
                                          const CancelToken* cancel = nullptr);
std::vector<std::string> writeHdf5(const std::string& path,
                                   const std::vector<TensorToWrite>& tensors,
                                   const TensorFiller& fill, const WriteOptions& options,
                                   ProgressSink& progress = nullProgress(),
                                   const CancelToken* cancel = nullptr);

// Picks the format from the extension: .safetensors, or .h5/.hdf5/.hdf.
std::vector<std::string> writeCheckpoint(const std::string& path,
                                         const std::vector<TensorToWrite>& tensors,
                                         const TensorFiller& fill, const WriteOptions& options,
                                         ProgressSink& progress = nullProgress(),
                                         const CancelToken* cancel = nullptr);

// Copies every tensor of `source` unchanged into `path` (format conversion).
std::vector<std::string> convertCheckpoint(const TensorSource& source, const std::string& path,
                                           WriteOptions options,
                                           ProgressSink& progress = nullProgress(),
                                           const CancelToken* cancel = nullptr);

}  // namespace ms::core::io
