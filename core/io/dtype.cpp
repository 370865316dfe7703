#include "core/io/dtype.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace ms::core::io {

namespace {
struct DTypeInfo {
    DType type;
    std::string_view name;
    std::size_t size;
};
constexpr DTypeInfo kInfos[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4},   {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2}, {DType::I8, "I8", 1},     {DType::U8, "U8", 1},
    {DType::Bool, "BOOL", 1},
};

// Tensor bytes come from files at any offset: every element is read and written through
// memcpy, which is alignment-safe and compiles to plain loads where alignment allows.
template <typename T>
T loadAt(const void* p, std::size_t i) {
    T v;
    std::memcpy(&v, static_cast<const unsigned char*>(p) + i * sizeof(T), sizeof(T));
    return v;
}

template <typename T>
void storeAt(void* p, std::size_t i, T v) {
    std::memcpy(static_cast<unsigned char*>(p) + i * sizeof(T), &v, sizeof(T));
}

template <typename T>
void intsToFloat(const void* src, float* dst, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(loadAt<T>(src, i));
}

template <typename T>
void floatToInts(const float* src, void* dst, std::size_t n) {
    constexpr double lo = static_cast<double>(std::numeric_limits<T>::min());
    constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());
    for (std::size_t i = 0; i < n; ++i) {
        double v = std::nearbyint(static_cast<double>(src[i]));
        if (std::isnan(v)) v = 0;
        storeAt<T>(dst, i, static_cast<T>(std::clamp(v, lo, hi)));
    }
}
#if defined(__x86_64__)
// F16C converts 8 halves per instruction with IEEE round-to-nearest-even: bit-identical to the
// scalar code (checked exhaustively by the tests), used when the CPU has it.
bool haveF16c() {
    static const bool has = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
        const bool f16c = c & (1u << 29), avx = c & (1u << 28), osxsave = c & (1u << 27);
        if (!(f16c && avx && osxsave)) return false;
        unsigned lo = 0, hi = 0;
        __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        return (lo & 6u) == 6u;  // the OS saves XMM and YMM state
    }();
    return has;
}

__attribute__((target("f16c,avx"))) void halfToFloatF16c(const void* src, float* dst, std::size_t n) {
    const auto* s = static_cast<const unsigned char*>(src);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 2 * i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; ++i) dst[i] = halfToFloat(loadAt<std::uint16_t>(src, i));
}

__attribute__((target("f16c,avx"))) void floatToHalfF16c(const float* src, void* dst, std::size_t n) {
    auto* d = static_cast<unsigned char*>(dst);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 2 * i), h);
    }
    for (; i < n; ++i) storeAt<std::uint16_t>(dst, i, floatToHalf(src[i]));
}
#endif

// Branch-free round-to-nearest-even (quiet NaN kept), so the loop vectorises.
inline std::uint16_t floatToBf16Fast(float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    const std::uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
    const std::uint32_t nan = (x >> 16) | 0x40u;
    return static_cast<std::uint16_t>((x & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

}  // namespace

std::string_view dtypeName(DType t) {
    for (const auto& i : kInfos)
        if (i.type == t) return i.name;
    return "?";
}

std::optional<DType> parseDType(std::string_view name) {
    for (const auto& i : kInfos)
        if (i.name == name) return i.type;
    return std::nullopt;
}

std::size_t dtypeSize(DType t) {
    for (const auto& i : kInfos)
        if (i.type == t) return i.size;
    return 0;
}

bool isFloating(DType t) {
    return t == DType::F64 || t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

float halfToFloat(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1fu;
    std::uint32_t mant = h & 0x3ffu;
    std::uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400u) == 0) {
                mant <<= 1;
                --exp;
            }
            mant &= 0x3ffu;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

std::uint16_t floatToHalf(float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
    const std::uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) {  // inf or nan
        return sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u);
    }
    if (absx >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: overflow to inf
    if (absx < 0x38800000u) {                        // below the smallest normal half
        if (absx < 0x33000000u) return sign;         // rounds to zero
        const std::uint32_t exp = absx >> 23;
        const std::uint32_t mant = (absx & 0x7fffffu) | 0x800000u;
        // value = mant * 2^(exp-150); in units of the smallest subnormal (2^-24) that is
        // mant >> (126 - exp), rounded to nearest even on the bits shifted out.
        const std::uint32_t shift = 126 - exp;  // 14..24
        std::uint32_t half = mant >> shift;
        const std::uint32_t rem = mant & ((1u << shift) - 1u);
        const std::uint32_t halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (half & 1u))) ++half;
        return sign | static_cast<std::uint16_t>(half);
    }
    std::uint32_t h = ((absx >> 13) - ((127 - 15) << 10));
    const std::uint32_t rem = absx & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
    return sign | static_cast<std::uint16_t>(h);
}

float bf16ToFloat(std::uint16_t b) {
    const std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

std::uint16_t floatToBf16(float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
    const std::uint32_t lsb = (x >> 16) & 1u;
    x += 0x7fffu + lsb;  // round to nearest even
    return static_cast<std::uint16_t>(x >> 16);
}

void toFloat32(DType from, const void* src, float* dst, std::size_t n) {
    if (n == 0) return;
    switch (from) {
        case DType::F32: std::memcpy(dst, src, n * 4); return;
        case DType::F64: {
            for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(loadAt<double>(src, i));
            return;
        }
        case DType::F16: {
#if defined(__x86_64__)
            if (haveF16c()) return halfToFloatF16c(src, dst, n);
#endif
            for (std::size_t i = 0; i < n; ++i) dst[i] = halfToFloat(loadAt<std::uint16_t>(src, i));
            return;
        }
        case DType::BF16: {
            for (std::size_t i = 0; i < n; ++i) dst[i] = bf16ToFloat(loadAt<std::uint16_t>(src, i));
            return;
        }
        case DType::I64: intsToFloat<std::int64_t>(src, dst, n); return;
        case DType::I32: intsToFloat<std::int32_t>(src, dst, n); return;
        case DType::I16: intsToFloat<std::int16_t>(src, dst, n); return;
        case DType::I8: intsToFloat<std::int8_t>(src, dst, n); return;
        case DType::U8: intsToFloat<std::uint8_t>(src, dst, n); return;
        case DType::Bool: {
            const std::uint8_t* s = static_cast<const std::uint8_t*>(src);
            for (std::size_t i = 0; i < n; ++i) dst[i] = s[i] ? 1.0f : 0.0f;
            return;
        }
    }
}

void fromFloat32(DType to, const float* src, void* dst, std::size_t n) {
    if (n == 0) return;
    switch (to) {
        case DType::F32: std::memcpy(dst, src, n * 4); return;
        case DType::F64: {
            for (std::size_t i = 0; i < n; ++i) storeAt<double>(dst, i, src[i]);
            return;
        }
        case DType::F16: {
#if defined(__x86_64__)
            if (haveF16c()) return floatToHalfF16c(src, dst, n);
#endif
            for (std::size_t i = 0; i < n; ++i) storeAt<std::uint16_t>(dst, i, floatToHalf(src[i]));
            return;
        }
        case DType::BF16: {
            for (std::size_t i = 0; i < n; ++i) storeAt<std::uint16_t>(dst, i, floatToBf16Fast(src[i]));
            return;
        }
        case DType::I64: floatToInts<std::int64_t>(src, dst, n); return;
        case DType::I32: floatToInts<std::int32_t>(src, dst, n); return;
        case DType::I16: floatToInts<std::int16_t>(src, dst, n); return;
        case DType::I8: floatToInts<std::int8_t>(src, dst, n); return;
        case DType::U8: floatToInts<std::uint8_t>(src, dst, n); return;
        case DType::Bool: {
            std::uint8_t* d = static_cast<std::uint8_t*>(dst);
            for (std::size_t i = 0; i < n; ++i) d[i] = src[i] != 0.0f ? 1 : 0;
            return;
        }
    }
}

std::optional<std::uint64_t> checkedNumel(const std::int64_t* dims, std::size_t rank) {
    std::uint64_t n = 1;
    for (std::size_t i = 0; i < rank; ++i) {
        if (dims[i] < 0) return std::nullopt;
        const auto d = static_cast<std::uint64_t>(dims[i]);
        if (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / d) return std::nullopt;
        n *= d;
    }
    return n;
}

}  // namespace ms::core::io
