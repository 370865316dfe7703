// NumPy's .npy files (torch-free): what the NYUv2 and Cityscapes releases read by MTAN, LibMTL,
// Auto-Lambda and the SIMO code store images, labels, depth and normals in. Format versions 1–3,
// either byte order, C or Fortran order, bool / int8 / uint8 / int16 / uint16 / int32 / uint32 /
// int64 / uint64 / float16 / float32 / float64 elements; 0-D to 4-D. The values come back as
// floats in C (row-major) order. A bad magic, a header that is not the dict NumPy writes, an
// element type outside the list (objects, strings, complex, structured) or a data size that does
// not match the header is refused naming the file; nothing in the file is ever evaluated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ms::core::data {

struct NpyArray {
    std::vector<std::int64_t> shape;  // as NumPy reports it (logical, not storage, order)
    std::string descr;                // the element type as written, e.g. "<f4", "|u1"
    bool integral = false;            // bool or integer elements
    std::vector<float> values;        // C order; integers above 2^24 lose precision as floats do

    std::int64_t size() const;
};

// Throws IoError (unreadable) or FormatError naming the file. With headerOnly, the values stay
// empty (the header is still checked against the file's size).
NpyArray readNpy(const std::string& path, bool headerOnly = false);
// The same from a whole file's bytes in memory (`name` for messages).
NpyArray parseNpy(const std::uint8_t* bytes, std::size_t size, const std::string& name);

bool isNpyFile(const std::string& path);  // by extension (.npy)

// Writes a little-endian float32 C-order array (format version 1); `durable`: atomically and
// fsynced (temporary file, then rename), else in place (many small files of an export). Throws
// OutputError/IoError naming the file.
void writeNpy(const std::string& path, const std::vector<std::int64_t>& shape, const float* values, bool durable = false);

// How an image-like array holds its pixels: H×W (one channel); H×W×C with C = 1 or 3 (channel
// last, as the NYUv2 and Cityscapes releases store images, depth and normals); C×H×W with C = 1
// or 3 and a last dimension that is not (channel first, as torch tensors are saved); a leading
// dimension of 1 is dropped. H×W×3 wins when both ends are 3. Anything else is refused naming
// the file.
struct NpyLayout {
    int height = 0, width = 0, channels = 1;
    bool channelFirst = false;
    // The element at (y, x, channel) in NpyArray::values.
    std::size_t at(int y, int x, int c) const {
        return channelFirst ? (static_cast<std::size_t>(c) * height + y) * width + x : (static_cast<std::size_t>(y) * width + x) * channels + c;
    }
};
NpyLayout npyImageLayout(const NpyArray& a, const std::string& path);

}  // namespace ms::core::data
