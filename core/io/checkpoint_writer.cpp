#include "core/io/checkpoint_writer.h"

#include <cstring>

#include "core/errors.h"

namespace ms::core::io {

namespace {
bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

std::vector<std::string> writeCheckpoint(const std::string& path,
                                         const std::vector<TensorToWrite>& tensors,
                                         const TensorFiller& fill, const WriteOptions& options,
                                         ProgressSink& progress, const CancelToken* cancel) {
    if (endsWith(path, ".safetensors"))
        return writeSafetensors(path, tensors, fill, options, progress, cancel);
    if (endsWith(path, ".h5") || endsWith(path, ".hdf5") || endsWith(path, ".hdf"))
        return writeHdf5(path, tensors, fill, options, progress, cancel);
    throw InvalidArgument(path +
                          ": cannot tell the output format from the extension "
                          "(use .safetensors, .h5 or .hdf5)");
}

std::vector<std::string> convertCheckpoint(const TensorSource& source, const std::string& path,
                                           WriteOptions options, ProgressSink& progress,
                                           const CancelToken* cancel) {
    std::vector<TensorToWrite> specs;
    for (const auto& t : source.tensors()) specs.push_back({t.name, t.dtype, t.shape});
    for (const auto& [k, v] : source.metadata()) options.metadata.emplace(k, v);
    const auto fill = [&](std::size_t i, std::byte* dst) {
        const TensorData d = source.load(source.tensors()[i].name);
        if (d.size() > 0) std::memcpy(dst, d.data(), d.size());
    };
    return writeCheckpoint(path, specs, fill, options, progress, cancel);
}

}  // namespace ms::core::io
