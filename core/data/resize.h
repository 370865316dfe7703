// Image resampling that reproduces Pillow's Image.resize (Pillow 9, Resample.c) bit for bit on
// 8-bit images: separable convolution, horizontal pass first, the filter's support widened by
// the scale when shrinking (antialiasing), coefficients normalised per output pixel and applied
// in 22-bit fixed point with rounding and clipping after each pass. NEAREST samples the pixel at
// (x + 0.5)·scale, as Pillow's affine path does. Images are interleaved (HWC) uint8 rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ms::core::data {

enum class Interpolation { Nearest, Bilinear, Bicubic };

std::string interpolationName(Interpolation i);      // nearest, bilinear, bicubic
Interpolation parseInterpolation(const std::string& s);  // throws InvalidArgument

// src: height × width × channels. Returns outHeight × outWidth × channels.
std::vector<std::uint8_t> resizeImage(const std::uint8_t* src, int width, int height, int channels, int outWidth,
                                      int outHeight, Interpolation filter);

// Nearest-neighbour resize of any element type (16-bit depth maps, class masks), as Pillow's.
template <typename T>
std::vector<T> resizeNearest(const T* src, int width, int height, int channels, int outWidth, int outHeight);

}  // namespace ms::core::data
