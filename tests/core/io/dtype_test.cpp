// dtype conversions: hand-worked values, rounding ties, subnormals, and exhaustive round trips.
#include "core/io/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace ms::core::io {
namespace {

TEST(DType, NamesSizesAndParsing) {
    EXPECT_EQ(dtypeName(DType::BF16), "BF16");
    EXPECT_EQ(dtypeName(DType::Bool), "BOOL");
    EXPECT_EQ(dtypeSize(DType::F64), 8u);
    EXPECT_EQ(dtypeSize(DType::Bool), 1u);
    EXPECT_EQ(parseDType("I16"), DType::I16);
    EXPECT_FALSE(parseDType("F8_E4M3").has_value());
    EXPECT_TRUE(isFloating(DType::BF16));
    EXPECT_FALSE(isFloating(DType::I64));
}

TEST(DType, HalfHandWorkedValues) {
    EXPECT_EQ(halfToFloat(0x3c00), 1.0f);
    EXPECT_EQ(halfToFloat(0xc000), -2.0f);
    EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
    EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
    EXPECT_EQ(halfToFloat(0x03ff), std::ldexp(1023.0f, -24));
    EXPECT_TRUE(std::isinf(halfToFloat(0x7c00)));
    EXPECT_TRUE(std::isnan(halfToFloat(0x7e00)));
    EXPECT_TRUE(std::signbit(halfToFloat(0x8000)));
}

TEST(DType, HalfRoundsToNearestEven) {
    EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie → even (down)
    EXPECT_EQ(floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie → even (up)
    EXPECT_EQ(floatToHalf(65519.0f), 0x7bff);
    EXPECT_EQ(floatToHalf(65520.0f), 0x7c00);  // overflows to inf
    EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000);      // tie between 0 and 1 ulp → 0
    EXPECT_EQ(floatToHalf(3 * std::ldexp(1.0f, -26)), 0x0001);  // above the tie → 1 ulp
    EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
    EXPECT_EQ(floatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
    EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(std::nanf("")))));
}

TEST(DType, EveryHalfRoundTripsExactly) {
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
        const auto v = static_cast<std::uint16_t>(h);
        const float f = halfToFloat(v);
        if (std::isnan(f)) continue;
        ASSERT_EQ(floatToHalf(f), v) << "half 0x" << std::hex << h;
    }
}

TEST(DType, EveryBf16RoundTripsExactly) {
    for (std::uint32_t b = 0; b < 0x10000; ++b) {
        const auto v = static_cast<std::uint16_t>(b);
        const float f = bf16ToFloat(v);
        if (std::isnan(f)) continue;
        ASSERT_EQ(floatToBf16(f), v) << "bf16 0x" << std::hex << b;
    }
}

TEST(DType, Bf16RoundsToNearestEven) {
    EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
    EXPECT_EQ(floatToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);      // tie → even
    EXPECT_EQ(floatToBf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);  // tie → even (up)
    EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(std::nanf("")))));
}

TEST(DType, ArrayConversionsSaturateIntegers) {
    const float src[] = {-1e10f, -1.5f, 2.5f, 300.0f, std::nanf("")};
    std::int8_t i8[5];
    fromFloat32(DType::I8, src, i8, 5);
    EXPECT_EQ(i8[0], -128);
    EXPECT_EQ(i8[1], -2);  // nearest even
    EXPECT_EQ(i8[2], 2);
    EXPECT_EQ(i8[3], 127);
    EXPECT_EQ(i8[4], 0);
    std::uint8_t b[5];
    fromFloat32(DType::Bool, src, b, 5);
    EXPECT_EQ(b[0], 1);
    float back[5];
    toFloat32(DType::I8, i8, back, 5);
    EXPECT_EQ(back[0], -128.0f);
    const double d[] = {0.1, -3.0};
    float f[2];
    toFloat32(DType::F64, d, f, 2);
    EXPECT_EQ(f[0], 0.1f);
    EXPECT_EQ(f[1], -3.0f);
}

TEST(DType, CheckedNumelDetectsOverflowAndNegatives) {
    const std::int64_t ok[] = {2, 3, 4};
    EXPECT_EQ(checkedNumel(ok, 3), 24u);
    EXPECT_EQ(checkedNumel(nullptr, 0), 1u);  // a scalar
    const std::int64_t big[] = {1LL << 40, 1LL << 40};
    EXPECT_FALSE(checkedNumel(big, 2).has_value());
    const std::int64_t neg[] = {2, -1};
    EXPECT_FALSE(checkedNumel(neg, 2).has_value());
    const std::int64_t zero[] = {0, 1LL << 62, 1LL << 62};
    EXPECT_EQ(checkedNumel(zero, 3), 0u);
}

}  // namespace
}  // namespace ms::core::io

namespace ms::core::io {
namespace {

// The array conversions (vectorised / F16C paths) must agree bit for bit with the scalar
// reference functions on every half and bf16 pattern and on rounding-sensitive floats.
TEST(DType, ArrayPathsAgreeWithScalarReference) {
    std::vector<std::uint16_t> all(0x10000);
    for (std::uint32_t i = 0; i < 0x10000; ++i) all[i] = static_cast<std::uint16_t>(i);
    std::vector<float> f(all.size());
    toFloat32(DType::F16, all.data(), f.data(), f.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
        const float r = halfToFloat(all[i]);
        if (std::isnan(r)) ASSERT_TRUE(std::isnan(f[i]));
        else ASSERT_EQ(f[i], r) << i;
    }
    // Floats around every half/bf16 rounding boundary, plus odd offsets to test unaligned tails.
    std::vector<float> src;
    for (std::uint32_t b = 0; b < 0xffffffffu - (1u << 12); b += 4099u) {
        float v;
        std::memcpy(&v, &b, 4);
        src.push_back(v);
    }
    std::vector<std::uint16_t> out(src.size() + 1);
    fromFloat32(DType::F16, src.data(), out.data() + 1, src.size() - 1);
    for (std::size_t i = 0; i + 1 < src.size(); ++i) {
        if (std::isnan(src[i])) ASSERT_TRUE(std::isnan(halfToFloat(out[i + 1])));
        else ASSERT_EQ(out[i + 1], floatToHalf(src[i])) << src[i];
    }
    fromFloat32(DType::BF16, src.data(), out.data(), src.size());
    for (std::size_t i = 0; i < src.size(); ++i) {
        if (std::isnan(src[i])) ASSERT_TRUE(std::isnan(bf16ToFloat(out[i])));
        else ASSERT_EQ(out[i], floatToBf16(src[i])) << src[i];
    }
}

}  // namespace
}  // namespace ms::core::io
