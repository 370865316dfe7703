// libFuzzer target: JPEG/PNG decoding (libjpeg-turbo, libpng) and the preprocessing after it
// (channel conversion, Pillow-style resize, centre crop) on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "core/data/image_codec.h"
#include "core/data/preprocess.h"
#include "core/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto img = ms::core::data::decodeImage(data, size, "fuzz.img");
        const std::size_t n = static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height) * static_cast<std::size_t>(img.channels);
        if ((img.bits == 8 ? img.pixels.size() : img.pixels16.size()) != n) __builtin_trap();
        if (img.bits == 8 && n <= (1u << 22)) {
            ms::core::data::Preprocess p = ms::core::data::preprocessPreset("clip", 3, 224);
            p.resize = 32;
            p.crop = 24;
            const auto out = ms::core::data::preprocessImage(img, p, "fuzz.img");
            if (out.pixels.size() != 24u * 24u * 3u) __builtin_trap();
        }
    } catch (const ms::core::Error&) {
    }
    return 0;
}
