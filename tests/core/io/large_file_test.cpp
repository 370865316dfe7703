// Reading a large checkpoint must not copy it: a 1.1 GiB safetensors file (sparse, so the test
// costs no disk) is opened, a tensor "loaded", and inspected and hashed by the CLI, while
// resident memory stays far below the file size and barely above the process's own baseline.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

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
