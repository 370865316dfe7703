#include "core/data/resize.h"

#include <cmath>

#include "core/errors.h"

namespace ms::core::data {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bilinearFilter(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

double bicubicFilter(double x) {
    constexpr double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

struct Coefficients {
    int ksize = 0;
    std::vector<int> bounds;  // per output pixel: first input pixel, count
    std::vector<int> k;       // per output pixel: ksize fixed-point weights
};

Coefficients precompute(int inSize, int outSize, Interpolation filter) {
    double (*fn)(double) = filter == Interpolation::Bicubic ? bicubicFilter : bilinearFilter;
    const double baseSupport = filter == Interpolation::Bicubic ? 2.0 : 1.0;
    const double scale = static_cast<double>(inSize) / outSize;
    const double filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = baseSupport * filterscale;
    Coefficients c;
    c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    c.bounds.resize(static_cast<std::size_t>(outSize) * 2);
    c.k.assign(static_cast<std::size_t>(outSize) * static_cast<std::size_t>(c.ksize), 0);
    std::vector<double> w(static_cast<std::size_t>(c.ksize));
    for (int xx = 0; xx < outSize; ++xx) {
        const double center = (xx + 0.5) * scale;
        const double ss = 1.0 / filterscale;
        int xmin = static_cast<int>(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = static_cast<int>(center + support + 0.5);
        if (xmax > inSize) xmax = inSize;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            w[static_cast<std::size_t>(x)] = fn((x + xmin - center + 0.5) * ss);
            ww += w[static_cast<std::size_t>(x)];
        }
        for (int x = 0; x < xmax; ++x) {
            double v = w[static_cast<std::size_t>(x)];
            if (ww != 0.0) v /= ww;
            c.k[static_cast<std::size_t>(xx) * static_cast<std::size_t>(c.ksize) + static_cast<std::size_t>(x)] =
                v < 0 ? static_cast<int>(-0.5 + v * (1 << kPrecisionBits)) : static_cast<int>(0.5 + v * (1 << kPrecisionBits));
        }
        c.bounds[static_cast<std::size_t>(xx) * 2] = xmin;
        c.bounds[static_cast<std::size_t>(xx) * 2 + 1] = xmax;
    }
    return c;
}

inline std::uint8_t clip8(int in) {
    if (in >= (1 << kPrecisionBits << 8)) return 255;
    if (in <= 0) return 0;
    return static_cast<std::uint8_t>(in >> kPrecisionBits);
}

}  // namespace

std::string interpolationName(Interpolation i) {
    switch (i) {
        case Interpolation::Nearest: return "nearest";
        case Interpolation::Bilinear: return "bilinear";
        case Interpolation::Bicubic: return "bicubic";
    }
    return "?";
}

Interpolation parseInterpolation(const std::string& s) {
    for (Interpolation i : {Interpolation::Nearest, Interpolation::Bilinear, Interpolation::Bicubic})
        if (interpolationName(i) == s) return i;
    throw InvalidArgument("unknown interpolation '" + s + "' (nearest, bilinear, bicubic)");
}

std::vector<std::uint8_t> resizeImage(const std::uint8_t* src, int width, int height, int channels, int outWidth,
                                      int outHeight, Interpolation filter) {
    if (width <= 0 || height <= 0 || outWidth <= 0 || outHeight <= 0 || channels <= 0)
        throw InvalidArgument("resize: sizes must be positive");
    const auto C = static_cast<std::size_t>(channels);
    if (width == outWidth && height == outHeight) return {src, src + static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * C};
    if (filter == Interpolation::Nearest) return resizeNearest(src, width, height, channels, outWidth, outHeight);
    const Coefficients h = precompute(width, outWidth, filter), v = precompute(height, outHeight, filter);
    // Rows of the source that the vertical pass reads.
    const int first = v.bounds[0];
    const int last = v.bounds[static_cast<std::size_t>(outHeight) * 2 - 2] + v.bounds[static_cast<std::size_t>(outHeight) * 2 - 1];
    const std::uint8_t* rows = src;
    int rowCount = height, rowOffset = 0;
    std::vector<std::uint8_t> temp;
    if (width != outWidth) {
        rowCount = last - first;
        rowOffset = first;
        temp.resize(static_cast<std::size_t>(rowCount) * static_cast<std::size_t>(outWidth) * C);
        for (int y = 0; y < rowCount; ++y) {
            const std::uint8_t* in = src + static_cast<std::size_t>(y + first) * static_cast<std::size_t>(width) * C;
            std::uint8_t* out = temp.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(outWidth) * C;
            for (int xx = 0; xx < outWidth; ++xx) {
                const int xmin = h.bounds[static_cast<std::size_t>(xx) * 2], xmax = h.bounds[static_cast<std::size_t>(xx) * 2 + 1];
                const int* k = &h.k[static_cast<std::size_t>(xx) * static_cast<std::size_t>(h.ksize)];
                for (std::size_t c = 0; c < C; ++c) {
                    int ss = 1 << (kPrecisionBits - 1);
                    for (int x = 0; x < xmax; ++x) ss += in[static_cast<std::size_t>(x + xmin) * C + c] * k[x];
                    out[static_cast<std::size_t>(xx) * C + c] = clip8(ss);
                }
            }
        }
        rows = temp.data();
    }
    if (height == outHeight) {
        // Only the horizontal pass: its rows are the output (all rows were used).
        return temp;
    }
    std::vector<std::uint8_t> out(static_cast<std::size_t>(outHeight) * static_cast<std::size_t>(outWidth) * C);
    const std::size_t stride = static_cast<std::size_t>(outWidth) * C;
    for (int yy = 0; yy < outHeight; ++yy) {
        const int ymin = v.bounds[static_cast<std::size_t>(yy) * 2] - rowOffset, ymax = v.bounds[static_cast<std::size_t>(yy) * 2 + 1];
        const int* k = &v.k[static_cast<std::size_t>(yy) * static_cast<std::size_t>(v.ksize)];
        std::uint8_t* o = out.data() + static_cast<std::size_t>(yy) * stride;
        for (std::size_t i = 0; i < stride; ++i) {
            int ss = 1 << (kPrecisionBits - 1);
            for (int y = 0; y < ymax; ++y) ss += rows[static_cast<std::size_t>(y + ymin) * stride + i] * k[y];
            o[i] = clip8(ss);
        }
    }
    (void)rowCount;
    return out;
}

template <typename T>
std::vector<T> resizeNearest(const T* src, int width, int height, int channels, int outWidth, int outHeight) {
    const auto C = static_cast<std::size_t>(channels);
    std::vector<T> out(static_cast<std::size_t>(outWidth) * static_cast<std::size_t>(outHeight) * C);
    const double sx = static_cast<double>(width) / outWidth, sy = static_cast<double>(height) / outHeight;
    // Pillow's affine transform: coordinates accumulate from (0.5·scale) in steps of scale.
    double yo = sy * 0.5;
    for (int y = 0; y < outHeight; ++y, yo += sy) {
        const int yin = yo < 0.0 ? -1 : static_cast<int>(yo);
        double xx = sx * 0.5;
        for (int x = 0; x < outWidth; ++x, xx += sx) {
            const int xin = xx < 0.0 ? -1 : static_cast<int>(xx);
            if (xin < 0 || xin >= width || yin < 0 || yin >= height) continue;
            for (std::size_t c = 0; c < C; ++c)
                out[(static_cast<std::size_t>(y) * static_cast<std::size_t>(outWidth) + static_cast<std::size_t>(x)) * C + c] =
                    src[(static_cast<std::size_t>(yin) * static_cast<std::size_t>(width) + static_cast<std::size_t>(xin)) * C + c];
        }
    }
    return out;
}

template std::vector<std::uint8_t> resizeNearest(const std::uint8_t*, int, int, int, int, int);
template std::vector<std::uint16_t> resizeNearest(const std::uint16_t*, int, int, int, int, int);
template std::vector<float> resizeNearest(const float*, int, int, int, int, int);

}  // namespace ms::core::data
