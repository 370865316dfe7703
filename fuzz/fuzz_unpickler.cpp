// libFuzzer target: the restricted unpickler on arbitrary bytes (as if they were a data.pkl),
// once refusing unknown globals and once reading them all as placeholders, walking any pickled
// nn.Module the way the torch reader does.
#include <cstddef>
#include <cstdint>

#include "core/errors.h"
#include "core/io/pickle_reader.h"
#include "core/io/pickled_module.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace pickle = ms::core::io::pickle;
    const auto* bytes = reinterpret_cast<const std::byte*>(data);
    try {
        pickle::Unpickler u("fuzz.pkl");
        (void)u.load(bytes, size);
    } catch (const ms::core::Error&) {
    }
    try {
        pickle::Unpickler u("fuzz.pkl", pickle::UnpicklerOptions{{"*"}});
        const pickle::Object* root = u.load(bytes, size);
        std::size_t n = 0;
        if (pickle::isModule(root))
            pickle::forEachStateEntry(
                "fuzz.pkl", root, "", 64,
                [&](const std::string& name, const pickle::Object*) { n += name.size(); });
        (void)n;
    } catch (const ms::core::Error&) {
    }
    return 0;
}
