#include "core/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/errors.h"

namespace ms::core::io {

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IoError(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw IoError(path, std::string("cannot stat: ") + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw IoError(path, "not a regular file");
    }
    std::shared_ptr<MappedFile> f(new MappedFile());
    f->m_path = path;
    f->m_size = static_cast<std::uint64_t>(st.st_size);
    if (f->m_size > 0) {
        void* p = ::mmap(nullptr, f->m_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw IoError(path, std::string("cannot map: ") + std::strerror(err));
        }
        f->m_data = static_cast<std::byte*>(p);
    }
    ::close(fd);  // the mapping keeps the file referenced
    return f;
}

MappedFile::~MappedFile() {
    if (m_data) ::munmap(m_data, m_size);
}

void MappedFile::release(std::uint64_t offset, std::uint64_t len) const {
    if (!m_data || offset >= m_size) return;
    const long page = ::sysconf(_SC_PAGESIZE);
    const std::uint64_t begin = (offset + page - 1) / page * page;  // only whole pages inside
    const std::uint64_t end = std::min(offset + len, m_size) / page * page;
    if (end > begin) ::madvise(m_data + begin, end - begin, MADV_DONTNEED);
}

}  // namespace ms::core::io
