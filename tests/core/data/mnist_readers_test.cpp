// The real data sets, read from where the set-up puts them. Expected values were computed
// independently with Python's gzip/struct/json modules.
#include "core/data/mnist_readers.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <numeric>

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

}  // namespace
}  // namespace ms::core::data
