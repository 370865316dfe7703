// .npy files written by Debian's python3-numpy (tests/fixtures/npy/make_npy_fixtures.py): every
// element type, both byte orders, C and Fortran order, format versions 1–3, read to the values
// NumPy reports in C order; hostile files refused naming the file.
#include "core/data/npy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "tests/test_support.h"

namespace ms::core::data {
namespace {

TEST(Npy, EveryVariantReadsWhatNumpyWrote) {
    std::ifstream in(test::fixture("npy/expected.json"));
    const auto expected = nlohmann::json::parse(in);
    ASSERT_GE(expected.size(), 40u);
    for (const auto& [name, e] : expected.items()) {
        SCOPED_TRACE(name);
        const NpyArray a = readNpy(test::fixture("npy/" + name));
        EXPECT_EQ(a.shape, e["shape"].get<std::vector<std::int64_t>>());
        const auto values = e["values"].get<std::vector<double>>();
        ASSERT_EQ(a.values.size(), values.size());
        for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(a.values[i], static_cast<float>(values[i])) << "value " << i;
        EXPECT_EQ(a.integral, name.find("f2") == std::string::npos && name.find("f4") == std::string::npos &&
                                  name.find("f8") == std::string::npos && name.find("depth") == std::string::npos);
    }
}

TEST(Npy, HostileFilesAreRefusedNamingTheFile) {
    const std::pair<const char*, const char*> cases[] = {{"bad_truncated.npy", "the header's shape and type say 96"},
                                                         {"bad_shape_lies.npy", "the header's shape and type say 432"},
                                                         {"bad_object.npy", "element type '|O'"},
                                                         {"bad_magic.npy", "no \\x93NUMPY magic"}};
    for (const auto& [file, needle] : cases) {
        SCOPED_TRACE(file);
        try {
            readNpy(test::fixture(std::string("npy/") + file));
            FAIL() << "read";
        } catch (const FormatError& e) {
            EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    }
    test::TempDir tmp;
    // A header that is not data: a call NumPy never writes is refused, not evaluated.
    std::string h = "{'descr': __import__('os').system('true'), 'fortran_order': False, 'shape': (1,), }";
    h.resize(118, ' ');
    h += '\n';
    std::ofstream(tmp.path("evil.npy"), std::ios::binary) << std::string("\x93NUMPY\x01\x00", 8) << static_cast<char>(h.size()) << '\0' << h << "abcd";
    EXPECT_THROW(readNpy(tmp.path("evil.npy")), FormatError);
    EXPECT_THROW(readNpy(tmp.path("missing.npy")), IoError);
}

}  // namespace
}  // namespace ms::core::data
