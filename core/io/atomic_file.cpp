#include "core/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/errors.h"

namespace ms::core::io {

AtomicFile::AtomicFile(std::string finalPath)
    : m_finalPath(std::move(finalPath)), m_lock(WriterLock::unlessHeldHere(m_finalPath)) {
    namespace fs = std::filesystem;
    const fs::path target(m_finalPath);
    fs::path dir = target.parent_path();
    if (dir.empty()) dir = ".";
    std::string tmpl = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    m_fd = ::mkstemp(buf.data());
    if (m_fd < 0)
        throw OutputError(m_finalPath, std::string("cannot create a temporary file in '") +
                                       dir.string() + "': " + std::strerror(errno));
    m_tempPath = buf.data();
    ::fchmod(m_fd, 0644);
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : m_finalPath(std::move(other.m_finalPath)),
      m_lock(std::move(other.m_lock)),
      m_tempPath(std::move(other.m_tempPath)),
      m_fd(other.m_fd),
      m_committed(other.m_committed) {
    other.m_fd = -1;
    other.m_committed = true;
}

AtomicFile::~AtomicFile() {
    if (m_fd >= 0) ::close(m_fd);
    if (!m_committed && !m_tempPath.empty()) ::unlink(m_tempPath.c_str());
}

void AtomicFile::reserve(std::uint64_t size) {
    if (size == 0) return;
    const int rc = ::posix_fallocate(m_fd, 0, static_cast<off_t>(size));
    if (rc != 0)
        throw OutputError(m_finalPath, "cannot reserve " + std::to_string(size) +
                                       " bytes: " + std::strerror(rc));
}

void AtomicFile::writeAll(const void* data, std::uint64_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t n = ::write(m_fd, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw OutputError(m_finalPath, std::string("write failed: ") + std::strerror(errno));
        }
        p += n;
        size -= static_cast<std::uint64_t>(n);
    }
}

void AtomicFile::commit() {
    if (::fsync(m_fd) != 0)
        throw OutputError(m_finalPath, std::string("fsync failed: ") + std::strerror(errno));
    if (::close(m_fd) != 0) {
        m_fd = -1;
        throw OutputError(m_finalPath, std::string("close failed: ") + std::strerror(errno));
    }
    m_fd = -1;
    if (::rename(m_tempPath.c_str(), m_finalPath.c_str()) != 0)
        throw OutputError(m_finalPath, std::string("cannot rename the temporary file into place: ") +
                                       std::strerror(errno));
    m_committed = true;
}

}  // namespace ms::core::io
