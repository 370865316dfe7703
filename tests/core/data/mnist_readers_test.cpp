// The real data sets, read from where the set-up puts them. Expected values were computed
// independently with Python's gzip/struct/json modules.
#include "core/data/mnist_readers.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <zlib.h>

#include "core/errors.h"
#include "tests/test_support.h"

namespace ms::core::data {
namespace {

std::uint64_t pixelSum(const ImageSet& s, std::size_t i) {
    return std::accumulate(s.image(i), s.image(i) + s.imageSize(), std::uint64_t{0});
}

TEST(FashionMnist, TrainAndTestSplitsMatchTheDebianFiles) {
    const ImageSet train = loadFashionMnist(kFashionMnistDir, Split::Train);
    EXPECT_EQ(train.count, 60000);
    EXPECT_EQ(train.height, 28);
    EXPECT_EQ(train.width, 28);
    EXPECT_EQ(train.classes, 10);
    EXPECT_EQ(train.labels[0], 9);  // an ankle boot
    EXPECT_EQ(pixelSum(train, 0), 76247u);
    std::vector<int> counts(10, 0);
    for (int l : train.labels) ++counts[static_cast<std::size_t>(l)];
    EXPECT_EQ(counts, std::vector<int>(10, 6000));
    const ImageSet test = loadFashionMnist(kFashionMnistDir, Split::Test);
    EXPECT_EQ(test.count, 10000);
    EXPECT_EQ(test.labels[0], 9);
    EXPECT_EQ(pixelSum(test, 9999), 24390u);
}

TEST(MnistDigits, NpmPackageReadsAsTenThousandLabelledImages) {
    const ImageSet digits = loadMnistDigits(MS_MNIST_DIGITS_DIR);
    EXPECT_EQ(digits.count, 10000);
    std::vector<int> counts(10, 0);
    for (int l : digits.labels) ++counts[static_cast<std::size_t>(l)];
    EXPECT_EQ(counts, (std::vector<int>{1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978}));
    // The first "3": images are grouped by digit, 1001 + 1127 + 991 before it.
    EXPECT_EQ(digits.labels[1001 + 1127 + 991], 3);
    EXPECT_EQ(pixelSum(digits, 1001 + 1127 + 991), 35867u);
}

TEST(DataReaders, BrokenFilesFailNamingTheFile) {
    test::TempDir tmp;
    EXPECT_THROW(loadFashionMnist(tmp.path("nowhere"), Split::Train), IoError);
    std::ofstream(tmp.path("x.gz"), std::ios::binary) << std::string("\x00\x00\x08\x03\x00\x00\x00\x02", 8);
    std::vector<std::int64_t> dims;
    try {
        readIdx(tmp.path("x.gz"), dims);
        FAIL();
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find(tmp.path("x.gz")), std::string::npos);
    }
    std::filesystem::create_directories(tmp.path("digits"));
    std::ofstream(tmp.path("digits/0.json")) << R"({"data": [0.5, 2.0]})";
    EXPECT_THROW(loadMnistDigits(tmp.path("digits")), FormatError);
}

// Target maps drawn from an IDX file: the planes asked for, in that order, the same whether the file
// is plain (read a plane at a time) or gzipped (read whole); a header that does not match the
// file's size, or an index past the count, is refused naming the file.
TEST(DataReaders, IdxPlanesArePickedFromPlainAndGzippedFiles) {
    test::TempDir tmp;
    // 3 maps of 1×2 float32, big-endian: map i holds {i + 0.5, -(i + 0.25)}.
    std::string bytes("\x00\x00\x0d\x03\x00\x00\x00\x03\x00\x00\x00\x01\x00\x00\x00\x02", 16);
    for (int i = 0; i < 3; ++i)
        for (float v : {i + 0.5f, -(i + 0.25f)}) {
            std::uint32_t u;
            std::memcpy(&u, &v, 4);
            for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>((u >> shift) & 0xff));
        }
    std::ofstream(tmp.path("maps-idx3-float32"), std::ios::binary) << bytes;
    gzFile gz = gzopen(tmp.path("maps-idx3-float32.gz").c_str(), "wb");
    ASSERT_TRUE(gz);
    ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
    gzclose(gz);
    for (const char* file : {"maps-idx3-float32", "maps-idx3-float32.gz"}) {
        SCOPED_TRACE(file);
        std::vector<std::int64_t> dims;
        int bits = 0;
        const std::vector<float> v = readIdxPlanes(tmp.path(file), {2, 0}, dims, bits);
        EXPECT_EQ(dims, (std::vector<std::int64_t>{3, 1, 2}));
        EXPECT_EQ(bits, 32);
        EXPECT_EQ(v, (std::vector<float>{2.5f, -2.25f, 0.5f, -0.25f}));
        try {
            readIdxPlanes(tmp.path(file), {3}, dims, bits);
            FAIL();
        } catch (const FormatError& e) {
            EXPECT_NE(std::string(e.what()).find("holds 3 maps, map 3 was asked for"), std::string::npos) << e.what();
        }
    }
    std::ofstream(tmp.path("short"), std::ios::binary) << bytes.substr(0, bytes.size() - 1);
    std::vector<std::int64_t> dims;
    int bits = 0;
    try {
        readIdxPlanes(tmp.path("short"), {0}, dims, bits);
        FAIL();
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find(tmp.path("short")), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("the header says 24"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace ms::core::data
