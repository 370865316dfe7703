#include "core/io/content_hash.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

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

// Files hashed by this process, by identity (device, inode, size, modification and change times
// to the nanosecond): loading a kit, binding it and writing a merge's provenance all want the same
// hashes, and a 350 MB checkpoint is worth reading once. A file written since has another key.
std::string identityOf(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return {};
    char key[160];
    std::snprintf(key, sizeof key, "%ju:%ju:%jd:%jd.%09ld:%jd.%09ld", static_cast<std::uintmax_t>(st.st_dev),
                  static_cast<std::uintmax_t>(st.st_ino), static_cast<std::intmax_t>(st.st_size),
                  static_cast<std::intmax_t>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec, static_cast<std::intmax_t>(st.st_ctim.tv_sec),
                  st.st_ctim.tv_nsec);
    return key;
}
std::mutex& cacheMutex() {
    static std::mutex m;
    return m;
}
std::map<std::string, std::string>& hashCache() {
    static std::map<std::string, std::string> c;
    return c;
}
}  // namespace

std::string hashFile(const std::string& path, ProgressSink& progress, const CancelToken* cancel) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IoError(path, std::string("cannot open: ") + std::strerror(errno));
    const std::string identity = identityOf(fd);
    if (!identity.empty()) {
        std::lock_guard<std::mutex> g(cacheMutex());
        if (const auto it = hashCache().find(identity); it != hashCache().end()) {
            ::close(fd);
            return it->second;
        }
    }
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
    const std::string hash = toHex(XXH3_128bits_digest(state.get()));
    if (!identity.empty()) {
        std::lock_guard<std::mutex> g(cacheMutex());
        hashCache()[identity] = hash;
    }
    return hash;
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
