// Checkpoint I/O hot paths against floors measured in the same run:
//   memcpy of the same bytes (memory bandwidth), read() of a page-cached file, write()+fsync.
// Usage: bench_io [MiB] (default 512)
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <vector>

#include "bench/bench_util.h"
#include "core/io/checkpoint_writer.h"
#include "core/io/content_hash.h"
#include "core/io/source_factory.h"

using namespace ms;
using namespace ms::core::io;

namespace {

double sumFloats(const float* p, std::size_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    for (; i < n; ++i) s0 += p[i];
    return s0 + s1 + s2 + s3;
}

void readWholeFile(const std::string& path, std::vector<char>& buf) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    std::size_t off = 0;
    ssize_t n;
    while ((n = ::read(fd, buf.data() + off, std::min<std::size_t>(4 << 20, buf.size() - off))) > 0)
        off += static_cast<std::size_t>(n);
    ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 512;
    const std::size_t bytes = mib << 20;
    const std::size_t n = bytes / 4;
    const auto dir = std::filesystem::temp_directory_path() / ("mergescope-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string stPath = (dir / "big.safetensors").string();

    std::vector<float> src(n), dst(n);
    std::mt19937 rng(1);
    std::normal_distribution<float> dist(0.f, 0.02f);
    for (auto& v : src) v = dist(rng);
    std::vector<std::uint16_t> half(n);

    std::printf("MergeScope I/O benchmark: %zu MiB of float32 (%zu elements)\n", mib, n);
    const double memcpyS = bench::bestSeconds(5, [&] { std::memcpy(dst.data(), src.data(), bytes); });
    const double sumMemS = bench::bestSeconds(5, [&] { bench::sink(sumFloats(src.data(), n)); });


    bench::header("Floors");
    bench::report("memcpy (floor)", bytes, memcpyS, memcpyS);
    bench::report("sum of an in-memory float32 array", bytes, sumMemS, memcpyS);

    // Write the file through the real writer (fsync included) against write()+fsync.
    std::vector<TensorToWrite> spec = {{"big", DType::F32, {static_cast<std::int64_t>(n)}}};
    const double writeS = bench::bestSeconds(3, [&] {
        writeSafetensors(stPath, spec, [&](std::size_t, std::byte* d) { std::memcpy(d, src.data(), bytes); }, {});
    });
    const std::string rawPath = (dir / "raw.bin").string();
    const double rawWriteS = bench::bestSeconds(3, [&] {
        const int fd = ::open(rawPath.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
        const char* p = reinterpret_cast<const char*>(src.data());
        for (std::size_t off = 0; off < bytes;) off += static_cast<std::size_t>(::write(fd, p + off, bytes - off));
        ::fsync(fd);
        ::close(fd);
    });
    std::vector<char> buf(bytes + (1 << 20));
    const double readS = bench::bestSeconds(5, [&] { readWholeFile(stPath, buf); });

    bench::header("Writing (page cache + fsync)");
    bench::report("write()+fsync of the bytes (floor)", bytes, rawWriteS, rawWriteS);
    bench::report("safetensors writer (mmap, atomic, fsync)", bytes, writeS, rawWriteS);

    bench::header("Reading a page-cached safetensors file");
    bench::report("read() into a buffer (floor)", bytes, readS, readS);
    const double hashS = bench::bestSeconds(5, [&] { (void)hashFile(stPath); });
    bench::report("content hash (XXH3-128, streamed)", bytes, hashS, readS);
    const double openSumS = bench::bestSeconds(5, [&] {
        const auto s = openCheckpoint(stPath);
        const auto d = s->load("big");
        bench::sink(sumFloats(reinterpret_cast<const float*>(d.data()), n));
    });
    bench::report("open + zero-copy load + sum all values", bytes, openSumS, sumMemS);
    std::printf("  (ratio against the in-memory sum: the cost of first-touch page faults)\n");

    bench::header("dtype conversions (output bytes vs memcpy of them)");
    fromFloat32(DType::BF16, src.data(), half.data(), n);
    const double bf16In = bench::bestSeconds(5, [&] { toFloat32(DType::BF16, half.data(), dst.data(), n); });
    bench::report("bf16 -> f32", bytes, bf16In, memcpyS);
    const double bf16Out = bench::bestSeconds(5, [&] { fromFloat32(DType::BF16, src.data(), half.data(), n); });
    bench::report("f32 -> bf16", bytes / 2, bf16Out, memcpyS / 2);
    fromFloat32(DType::F16, src.data(), half.data(), n);
    const double f16In = bench::bestSeconds(5, [&] { toFloat32(DType::F16, half.data(), dst.data(), n); });
    bench::report("f16 -> f32", bytes, f16In, memcpyS);
    const double f16Out = bench::bestSeconds(5, [&] { fromFloat32(DType::F16, src.data(), half.data(), n); });
    bench::report("f32 -> f16", bytes / 2, f16Out, memcpyS / 2);

    std::printf("\npeak RSS %.0f MiB (buffers: %zu MiB)\n", bench::peakRssMiB(), 3 * mib + mib / 2 * 2);
    std::filesystem::remove_all(dir);
    return 0;
}
