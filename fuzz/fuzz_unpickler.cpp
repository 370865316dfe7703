// libFuzzer target: the restricted unpickler on arbitrary bytes (as if they were a data.pkl).
#include <cstddef>
#include <cstdint>

#include "core/errors.h"
#include "core/io/pickle_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        ms::core::io::pickle::Unpickler u("fuzz.pkl");
        (void)u.load(reinterpret_cast<const std::byte*>(data), size);
    } catch (const ms::core::Error&) {
    }
    return 0;
}
