// Element types of checkpoint tensors and conversions to and from float32 (the merge engine
// computes in float32 and writes back in the base's dtype).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ms::core::io {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

// Names as the safetensors spec writes them: "F32", "BF16", "BOOL", ...
std::string_view dtypeName(DType t);
std::optional<DType> parseDType(std::string_view name);
std::size_t dtypeSize(DType t);
bool isFloating(DType t);

// Converts n elements of type `from` starting at src into float32 at dst.
void toFloat32(DType from, const void* src, float* dst, std::size_t n);
// Converts n float32 values into type `to` (round to nearest even for F16/BF16; integers are
// rounded and saturated; Bool is value != 0).
void fromFloat32(DType to, const float* src, void* dst, std::size_t n);

// Scalar helpers (exposed for tests).
float halfToFloat(std::uint16_t h);
std::uint16_t floatToHalf(float f);
float bf16ToFloat(std::uint16_t b);
std::uint16_t floatToBf16(float f);

// Multiplies the dimensions with overflow checking; returns nullopt on overflow or a negative
// dimension.
std::optional<std::uint64_t> checkedNumel(const std::int64_t* dims, std::size_t rank);

}  // namespace ms::core::io
