#include "core/io/source_factory.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "core/errors.h"
#include "core/io/hdf5_reader.h"
#include "core/io/safetensors_reader.h"

namespace ms::core::io {

namespace {
namespace fs = std::filesystem;

bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A Hugging Face style model directory: one index, one safetensors file, or a torch .bin.
std::string resolveDirectory(const std::string& dir) {
    std::vector<std::string> indexes, singles, torchFiles;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (endsWith(name, ".safetensors.index.json")) indexes.push_back(e.path().string());
        else if (endsWith(name, ".safetensors")) singles.push_back(e.path().string());
        else if (name == "pytorch_model.bin") torchFiles.push_back(e.path().string());
    }
    if (indexes.size() == 1) return indexes[0];
    if (indexes.empty() && singles.size() == 1) return singles[0];
    if (indexes.empty() && singles.empty() && torchFiles.size() == 1) return torchFiles[0];
    throw FormatError(dir, "directory does not hold exactly one checkpoint (found " +
                               std::to_string(indexes.size()) + " index, " +
                               std::to_string(singles.size()) + " safetensors, " +
                               std::to_string(torchFiles.size()) + " pytorch_model.bin files)");
}
}  // namespace

std::unique_ptr<TensorSource> openCheckpoint(const std::string& path, const OpenOptions& options) {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec || !fs::exists(status)) throw IoError(path, "no such file or directory");
    if (fs::is_directory(status)) return openCheckpoint(resolveDirectory(path), options);
    const std::uint64_t fileSize = fs::file_size(path, ec);
    if (endsWith(path, ".index.json")) return openShardedSafetensors(path);

    unsigned char magic[16] = {};
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IoError(path, std::string("cannot open: ") + std::strerror(errno));
    const ssize_t n = ::read(fd, magic, sizeof magic);
    ::close(fd);
    if (n <= 0) throw FormatError(path, "file is empty");
    if (n >= 4 && std::memcmp(magic, "PK\x03\x04", 4) == 0) return openTorch(path, options.torch);
    if (n >= 8 && std::memcmp(magic, "\x89HDF\r\n\x1a\n", 8) == 0) return openHdf5(path);
    // safetensors: a little-endian header length that fits the file, then a JSON object.
    if (n >= 9 && magic[8] == '{') {
        std::uint64_t len = 0;
        for (int i = 7; i >= 0; --i) len = (len << 8) | magic[i];
        if (len <= fileSize - 8) return openSafetensors(path);
    }
    // Legacy torch.save: a protocol-2 pickle of the magic number 0x1950a86a20f9469cfc6c.
    if (n >= 4 && std::memcmp(magic, "\x80\x02\x8a\x0a", 4) == 0) return openTorch(path, options.torch);
    if (endsWith(path, ".safetensors")) return openSafetensors(path);  // explains what is wrong
    if (endsWith(path, ".pt") || endsWith(path, ".pth") || endsWith(path, ".bin") ||
        endsWith(path, ".ckpt"))
        return openTorch(path, options.torch);
    if (endsWith(path, ".h5") || endsWith(path, ".hdf5")) return openHdf5(path);
    throw FormatError(path, "unrecognised format (expected safetensors, a PyTorch zip checkpoint "
                            "or HDF5)");
}

}  // namespace ms::core::io
