// libFuzzer target: the safetensors header parser on arbitrary bytes (as if they were a file).
#include <cstddef>
#include <cstdint>

#include "core/errors.h"
#include "core/io/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto h = ms::core::io::parseSafetensorsHeader(reinterpret_cast<const std::byte*>(data),
                                                            size, "fuzz.safetensors");
        // Whatever parses must describe bytes inside the input.
        for (const auto& e : h.entries)
            if (h.dataOffset + e.end > size) __builtin_trap();
    } catch (const ms::core::Error&) {
    }
    return 0;
}
