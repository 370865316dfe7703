// Decoding image files: JPEG through libjpeg-turbo (TurboJPEG API) and PNG through libpng, the
// same libraries Pillow decodes with, so pixels are identical to a Python pipeline's. The format
// is taken from the file's first bytes, not its name. 8-bit grey, grey+alpha, RGB, RGBA and
// palette images; 16-bit grey PNGs (depth maps) keep their 16 bits, 16-bit colour PNGs are read
// at 8 bits as Pillow reads photos (at 16 where asked: normal maps). Alpha is dropped (as
// Pillow's convert("RGB") and Hugging Face's image processors do). A `.npy` file (by name) is an
// image too: its array's layout as npyImageLayout (npy.h) reads it, integers taken as 0..255
// pixels, floats as [0, 1] and scaled by 255 (the NYUv2 and Cityscapes .npy releases).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ms::core::data {

struct DecodedImage {
    int width = 0, height = 0;
    int channels = 0;  // 1 (grey) or 3 (RGB), interleaved rows (HWC)
    int bits = 8;      // 8, or 16 for 16-bit PNGs
    std::vector<std::uint8_t> pixels;    // bits == 8: height × width × channels
    std::vector<std::uint16_t> pixels16;  // bits == 16: height × width × channels
};

struct ImageHeader {
    std::string format;  // "jpeg", "png" or "npy"
    int width = 0, height = 0, channels = 0, bits = 8;
};

// Throws IoError (unreadable file) or FormatError naming the file and the reason (not an image,
// truncated, CMYK JPEG, image over 1 gigapixel, ...). Never crashes on hostile bytes.
// keepColour16: a 16-bit RGB PNG keeps its 16 bits (target maps), else it is read at 8.
DecodedImage decodeImageFile(const std::string& path, bool keepColour16 = false);
DecodedImage decodeImage(const std::uint8_t* data, std::size_t size, const std::string& name, bool keepColour16 = false);
// Only the header: cheap checks of many files.
ImageHeader readImageHeader(const std::string& path);

// Writes an 8- or 16-bit grey or RGB PNG (HWC rows; 16-bit samples native-endian in
// `pixels16`), atomically (temporary file, then rename) and durably (fsync) unless `durable` is
// false (many files of one export, whose completion another file marks). Throws OutputError.
void writePng(const std::string& path, const DecodedImage& image, bool durable = true);

// Whether a file name has an image extension we decode (.jpg, .jpeg, .png; any case).
bool isImageFileName(const std::string& name);

// Colour conversions as Pillow's convert(): RGB → L by ITU-R 601-2 luma (L = (19595 R + 38470 G
// + 7471 B + 2¹⁵) >> 16), L → RGB by copying.
DecodedImage toChannels(DecodedImage image, int channels);

}  // namespace ms::core::data
