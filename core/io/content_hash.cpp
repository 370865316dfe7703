#include "core/io/content_hash.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/errors.h"

namespace ms::core::io {

namespace {
std::string toHex(XXH128_hash_t h) {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    static const char* kDigits = "0123456789abcdef";
    std::string s(32, '0');
    for (int i = 0; i < 16; ++i) {
        s[2 * i] = kDigits[c.digest[i] >> 4];
        s[2 * i + 1] = kDigits[c.digest[i] & 15];
    }
    return s;
}

struct StateDeleter {
    void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};
}  // namespace

std::string hashFile(const std::string& path, ProgressSink& progress, const CancelToken* cancel) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IoError(path, std::string("cannot open: ") + std::strerror(errno));
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    const off_t total = ::lseek(fd, 0, SEEK_END);
    ::lseek(fd, 0, SEEK_SET);
    std::unique_ptr<XXH3_state_t, StateDeleter> state(XXH3_createState());
    XXH3_128bits_reset(state.get());
    constexpr std::size_t kChunk = 4 << 20;
    std::unique_ptr<char[]> buf(new char[kChunk]);
    std::uint64_t done = 0;
    for (;;) {
        const ssize_t n = ::read(fd, buf.get(), kChunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd);
            throw IoError(path, std::string("read failed: ") + std::strerror(err));
        }
        if (n == 0) break;
        XXH3_128bits_update(state.get(), buf.get(), static_cast<std::size_t>(n));
        done += static_cast<std::uint64_t>(n);
        progress.report("hashing", done, static_cast<std::uint64_t>(total));
        if (cancel && cancel->isCancelled()) {
            ::close(fd);
            throw Cancelled();
        }
    }
    ::close(fd);
    return toHex(XXH3_128bits_digest(state.get()));
}

std::string hashBytes(const void* data, std::size_t size) {
    return toHex(XXH3_128bits(data, size));
}

std::string combineHashes(const std::vector<std::string>& hashes) {
    if (hashes.size() == 1) return hashes.front();
    std::string joined;
    for (const auto& h : hashes) joined += h;
    return hashBytes(joined.data(), joined.size());
}

}  // namespace ms::core::io
