// libFuzzer target: the .npy reader (header dict parsed as data, element types, byte orders,
// Fortran order, sizes) and the image layout read from it, on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "core/data/npy.h"
#include "core/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto a = ms::core::data::parseNpy(data, size, "fuzz.npy");
        if (static_cast<std::int64_t>(a.values.size()) != a.size()) __builtin_trap();
        const auto l = ms::core::data::npyImageLayout(a, "fuzz.npy");
        for (int c = 0; c < l.channels; ++c)
            if (l.at(l.height - 1, l.width - 1, c) >= a.values.size()) __builtin_trap();
    } catch (const ms::core::Error&) {
    }
    return 0;
}
