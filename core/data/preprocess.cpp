#include "core/data/preprocess.h"

#include <cmath>
#include <sstream>

#include "core/errors.h"

namespace ms::core::data {

void Preprocess::validate() const {
    if (channels != 1 && channels != 3) throw InvalidArgument("preprocess: channels must be 1 or 3, not " + std::to_string(channels));
    if (resize < 0 || crop < 0) throw InvalidArgument("preprocess: resize and crop must not be negative");
    if (mean.size() != static_cast<std::size_t>(channels) || std.size() != static_cast<std::size_t>(channels))
        throw InvalidArgument("preprocess: mean and std need one value per channel (" + std::to_string(channels) + ")");
    for (float s : std)
        if (!(s > 0)) throw InvalidArgument("preprocess: std values must be positive");
}

std::string Preprocess::key() const {
    std::ostringstream o;
    o.precision(9);
    o << "resize=" << resize << ";crop=" << crop << ";channels=" << channels << ";interp=" << interpolationName(interpolation)
      << ";mean=";
    for (float m : mean) o << m << ",";
    o << ";std=";
    for (float s : std) o << s << ",";
    return o.str();
}

Preprocess preprocessPreset(const std::string& name, int modelChannels, int modelImageSize) {
    Preprocess p;
    p.preset = name;
    if (name == "clip") {
        p.resize = 224;
        p.crop = 224;
        p.mean = {0.48145466f, 0.4578275f, 0.40821073f};
        p.std = {0.26862954f, 0.26130258f, 0.27577711f};
    } else if (name == "imagenet") {
        p.resize = 256;
        p.crop = 224;
        p.interpolation = Interpolation::Bilinear;
        p.mean = {0.485f, 0.456f, 0.406f};
        p.std = {0.229f, 0.224f, 0.225f};
    } else if (name == "none") {
        p.channels = modelChannels;
        p.crop = 0;
        p.mean.assign(static_cast<std::size_t>(modelChannels), 0.5f);
        p.std.assign(static_cast<std::size_t>(modelChannels), 0.5f);
    } else {
        throw InvalidArgument("unknown preprocess preset '" + name + "' (clip, imagenet, none, or a map of resize, crop, channels, mean, std, interpolation)");
    }
    (void)modelImageSize;
    return p;
}

std::pair<int, int> resizedSize(const Preprocess& p, int width, int height) {
    if (p.resize <= 0) return {width, height};
    if (width <= height) return {p.resize, static_cast<int>(static_cast<double>(p.resize) * height / width)};
    return {static_cast<int>(static_cast<double>(p.resize) * width / height), p.resize};
}

std::pair<int, int> cropOrigin(int width, int height, int crop) {
    // Python's round(): halves to even (the default rounding mode of nearbyint).
    return {static_cast<int>(std::nearbyint((height - crop) / 2.0)), static_cast<int>(std::nearbyint((width - crop) / 2.0))};
}

namespace {

template <typename T>
std::vector<T> cropRows(const std::vector<T>& src, int width, int channels, int top, int left, int crop) {
    const auto C = static_cast<std::size_t>(channels);
    std::vector<T> out(static_cast<std::size_t>(crop) * static_cast<std::size_t>(crop) * C);
    for (int y = 0; y < crop; ++y)
        for (std::size_t i = 0; i < static_cast<std::size_t>(crop) * C; ++i)
            out[static_cast<std::size_t>(y) * static_cast<std::size_t>(crop) * C + i] =
                src[(static_cast<std::size_t>(y + top) * static_cast<std::size_t>(width) + static_cast<std::size_t>(left)) * C + i];
    return out;
}

void checkCrop(const Preprocess& p, int w, int h, const std::string& name) {
    if (p.crop > 0 && (w < p.crop || h < p.crop))
        throw FormatError(name, "the image is " + std::to_string(w) + "×" + std::to_string(h) + " after resizing, smaller than the crop " +
                                    std::to_string(p.crop));
}

}  // namespace

DecodedImage preprocessImage(const DecodedImage& image, const Preprocess& p, const std::string& name) {
    if (image.bits != 8) throw FormatError(name, "a 16-bit image cannot be an encoder input (8-bit images only)");
    DecodedImage img = toChannels(image, p.channels);
    const auto [w, h] = resizedSize(p, img.width, img.height);
    if (w != img.width || h != img.height) {
        img.pixels = resizeImage(img.pixels.data(), img.width, img.height, img.channels, w, h, p.interpolation);
        img.width = w;
        img.height = h;
    }
    checkCrop(p, w, h, name);
    if (p.crop > 0 && (w != p.crop || h != p.crop)) {
        const auto [top, left] = cropOrigin(w, h, p.crop);
        img.pixels = cropRows(img.pixels, w, img.channels, top, left, p.crop);
        img.width = img.height = p.crop;
    }
    return img;
}

TargetMap preprocessTarget(TargetMap t, const Preprocess& p, const std::string& name) {
    const auto [w, h] = resizedSize(p, t.width, t.height);
    if (w != t.width || h != t.height) {
        t.values = resizeNearest(t.values.data(), t.width, t.height, t.channels, w, h);
        t.width = w;
        t.height = h;
    }
    checkCrop(p, w, h, name);
    if (p.crop > 0 && (w != p.crop || h != p.crop)) {
        const auto [top, left] = cropOrigin(w, h, p.crop);
        t.values = cropRows(t.values, w, t.channels, top, left, p.crop);
        t.width = t.height = p.crop;
    }
    return t;
}

}  // namespace ms::core::data
