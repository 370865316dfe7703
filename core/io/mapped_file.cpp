#include "core/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>

#include "core/errors.h"

namespace ms::core::io {

namespace {

// The live mappings of this process, by file identity: a file opened twice (the kit's suite and
// the merge engine read the same checkpoints) is mapped once, so its pages are resident once.
// A file replaced on disk (atomic rename: a new inode) or changed in place (size, mtime) gets a
// mapping of its own.
struct Identity {
    dev_t dev;
    ino_t ino;
    off_t size;
    std::int64_t mtimeNs;
    auto tie() const { return std::tie(dev, ino, size, mtimeNs); }
    bool operator<(const Identity& o) const { return tie() < o.tie(); }
};

struct Registry {
    std::mutex mutex;
    std::map<Identity, std::weak_ptr<const MappedFile>> files;
};

Registry& registry() {
    static Registry* r = new Registry();  // never destroyed: mappings may outlive static destruction
    return *r;
}

}  // namespace

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
    const Identity id{st.st_dev, st.st_ino, st.st_size,
                      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
    Registry& reg = registry();
    std::lock_guard<std::mutex> lock(reg.mutex);
    if (const auto it = reg.files.find(id); it != reg.files.end()) {
        if (auto shared = it->second.lock()) {
            ::close(fd);
            return shared;
        }
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
    for (auto it = reg.files.begin(); it != reg.files.end();) it = it->second.expired() ? reg.files.erase(it) : std::next(it);
    reg.files[id] = f;
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

bool MappedFile::releaseMapped(const void* data, std::uint64_t len) {
    const auto* p = static_cast<const std::byte*>(data);
    std::shared_ptr<const MappedFile> owner;
    {
        Registry& reg = registry();
        std::lock_guard<std::mutex> lock(reg.mutex);
        for (const auto& [id, weak] : reg.files) {
            auto f = weak.lock();
            if (f && f->m_data && p >= f->m_data && p + len <= f->m_data + f->m_size) {
                owner = std::move(f);
                break;
            }
        }
    }
    if (!owner) return false;  // not a mapped file's bytes (owned memory must never be dropped)
    owner->release(static_cast<std::uint64_t>(p - owner->m_data), len);
    return true;
}

}  // namespace ms::core::io
