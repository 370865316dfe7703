// HDF5 weight files: reading what h5py writes, writing what h5py reads.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/errors.h"
#include "core/io/checkpoint_writer.h"
#include "core/io/hdf5_reader.h"
#include "core/io/source_factory.h"
#include "tests/core/io/expected_tensors.h"
#include "tests/test_support.h"

namespace ms::core::io {
namespace {

TEST(Hdf5Reader, ReadsWhatH5pyWrote) {
    const auto src = openCheckpoint(test::fixture("io/weights.h5"));
    EXPECT_EQ(src->format(), "hdf5");
    test::expectMatchesFixture(*src, test::expectedIo().at("weights.h5"));
    for (const auto& [k, v] : test::expectedIo().at("weights.h5").at("metadata").items())
        EXPECT_EQ(src->metadata().at(k), v.get<std::string>()) << k;
}

TEST(Hdf5Reader, ContiguousDatasetsAreZeroCopyCompressedOnesAreRead) {
    const auto src = openHdf5(test::fixture("io/weights.h5"));
    EXPECT_TRUE(src->load("blocks.0.qkv.weight").isView());
    EXPECT_FALSE(src->load("blocks.0.qkv.bias").isView());  // gzip-compressed in the fixture
}

TEST(Hdf5Writer, RoundTripsEveryDtypeAndIsReadableByH5py) {
    test::TempDir tmp;
    const auto pt = openCheckpoint(test::fixture("io/all_dtypes.pt"));
    const std::string out = tmp.path("weights.h5");
    WriteOptions opts;
    opts.metadata["recipe"] = "merge_method: task_arithmetic";
    convertCheckpoint(*pt, out, opts);
    const auto back = openCheckpoint(out);
    test::expectMatchesFixture(*back, test::expectedIo().at("all_dtypes.pt"));
    EXPECT_EQ(back->metadata().at("recipe"), "merge_method: task_arithmetic");

    // An independent reader: h5py must see float16 as float16 and bool as bool.
    const std::string script = tmp.path("check.py");
    {
        FILE* f = std::fopen(script.c_str(), "w");
        std::fputs(
            "import sys, h5py\n"
            "f = h5py.File(sys.argv[1], 'r')\n"
            "print(f['f16'].dtype, f['bool'].dtype, f['transposed'].shape, f.attrs['recipe'])\n",
            f);
        std::fclose(f);
    }
    const std::string cmd = "/usr/bin/python3 " + script + " " + out + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[512] = {};
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, p);
    const int rc = ::pclose(p);
    const std::string text(buf, n);
    ASSERT_EQ(rc, 0) << text;
    EXPECT_EQ(text, "float16 bool (6, 4) merge_method: task_arithmetic\n");
}

TEST(Hdf5Writer, ConflictingGroupNamesFailWithoutOutput) {
    test::TempDir tmp;
    std::vector<TensorToWrite> specs = {{"a.b", DType::F32, {1}}, {"a.b.c", DType::F32, {1}}};
    const TensorFiller fill = [](std::size_t, std::byte* d) { std::memset(d, 0, 4); };
    try {
        writeHdf5(tmp.path("x.h5"), specs, fill, {});
        FAIL();
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("'a.b.c'"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(std::filesystem::is_empty(tmp.dir()));
}

}  // namespace
}  // namespace ms::core::io
