// Reading a large checkpoint must not copy it: a 1.1 GiB safetensors file (sparse, so the test
// costs no disk) is opened, a tensor "loaded", and inspected and hashed by the CLI, while
// resident memory stays far below the file size and barely above the process's own baseline.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "core/io/mapped_file.h"
#include "core/io/safetensors_header.h"
#include "core/io/source_factory.h"
#include "tests/test_support.h"

namespace ms::core::io {
namespace {

constexpr std::int64_t kElements = 288LL * 1024 * 1024;  // float32: 1.125 GiB

long residentKb() {
    std::ifstream in("/proc/self/statm");
    long size = 0, resident = 0;
    in >> size >> resident;
    return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

std::string makeSparseCheckpoint(const test::TempDir& tmp) {
    SafetensorsEntry e;
    e.info = {"big", DType::F32, {kElements}, static_cast<std::uint64_t>(kElements),
              static_cast<std::uint64_t>(kElements) * 4};
    e.begin = 0;
    e.end = e.info.nbytes;
    const std::string header = serializeSafetensorsHeader({e}, {{"format", "pt"}});
    const std::string path = tmp.path("big.safetensors");
    const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    EXPECT_EQ(::write(fd, header.data(), header.size()), static_cast<ssize_t>(header.size()));
    EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(header.size() + e.info.nbytes)), 0);
    ::close(fd);
    return path;
}

TEST(LargeFile, LoadingATensorMapsItWithoutCopying) {
    test::TempDir tmp;
    const std::string path = makeSparseCheckpoint(tmp);
    const long before = residentKb();
    const auto src = openCheckpoint(path);
    const auto d = src->load("big");
    const long after = residentKb();
    EXPECT_TRUE(d.isView());
    EXPECT_EQ(d.size(), static_cast<std::size_t>(kElements) * 4);
    EXPECT_LT(after - before, 16 * 1024) << "resident memory grew by " << (after - before) << " KiB";
}

// The kit's suite and the merge engine open the same checkpoints: one mapping per file, so its
// pages are resident once. A pass over a tensor can drop its pages by address (releaseMapped);
// memory that is not a mapped file's is never touched.
TEST(LargeFile, AFileOpenedTwiceIsMappedOnceAndItsPagesCanBeDroppedByAddress) {
    test::TempDir tmp;
    const std::string path = makeSparseCheckpoint(tmp);
    const auto a = openCheckpoint(path), b = openCheckpoint(path);
    const auto da = a->load("big"), db = b->load("big");
    EXPECT_EQ(da.data(), db.data());
    constexpr std::size_t kTouch = 64u << 20;  // 64 MiB of the tensor read
    const long before = residentKb();
    long sum = 0;
    for (std::size_t i = 0; i < kTouch; i += 4096) sum += std::to_integer<long>(da.data()[i]);
    EXPECT_EQ(sum, 0);
    const long touched = residentKb();
    EXPECT_GT(touched - before, 48 * 1024) << "reading 64 MiB of the mapping made " << (touched - before) << " KiB resident";
    EXPECT_TRUE(MappedFile::releaseMapped(da.data(), kTouch));
    const long released = residentKb();
    EXPECT_LT(released - before, 8 * 1024) << "still " << (released - before) << " KiB resident after release";
    EXPECT_EQ(da.data()[kTouch / 2], std::byte{0});  // read back from the page cache
    std::vector<float> owned(1 << 20, 1.5f);
    EXPECT_FALSE(MappedFile::releaseMapped(owned.data(), owned.size() * sizeof(float)));
    EXPECT_EQ(owned[12345], 1.5f);
    // A file replaced on disk (a new inode) gets a mapping of its own.
    test::TempDir tmp2;
    std::filesystem::rename(makeSparseCheckpoint(tmp2), path);
    EXPECT_NE(openCheckpoint(path)->load("big").data(), da.data());
}

TEST(LargeFile, CliInspectAndHashStayFarBelowTheFileSize) {
    test::TempDir tmp;
    const std::string path = makeSparseCheckpoint(tmp);
    const long fileKb = kElements * 4 / 1024;
    // The process itself (with LibTorch linked, ~150 MiB of shared library pages) is the baseline:
    // what inspecting and hashing the file adds must be small.
    const auto baseline = test::runCli({"--version"});
    const auto inspect = test::runCli({"inspect", path});
    ASSERT_EQ(inspect.exitCode, 0) << inspect.err;
    EXPECT_NE(inspect.out.find("1.1 GiB"), std::string::npos) << inspect.out;
    const auto hashed = test::runCli({"inspect", "--hash", path});
    ASSERT_EQ(hashed.exitCode, 0) << hashed.err;
    EXPECT_NE(hashed.out.find("xxh128: "), std::string::npos);
    for (const auto* r : {&inspect, &hashed}) {
        EXPECT_LT(r->maxRssKb - baseline.maxRssKb, 32 * 1024) << "growth over the process baseline";
        EXPECT_LT(r->maxRssKb, fileKb / 4) << "peak RSS " << r->maxRssKb << " KiB";
    }
    std::cout << "[ measure  ] file " << fileKb / 1024 << " MiB; peak RSS: process baseline " << baseline.maxRssKb / 1024
              << " MiB, inspect " << inspect.maxRssKb / 1024 << " MiB, inspect --hash " << hashed.maxRssKb / 1024 << " MiB\n";
}

}  // namespace
}  // namespace ms::core::io
