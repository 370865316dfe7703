#include "core/io/writer_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

namespace ms::core::io {

namespace {

// The targets this process holds through a WriterLock (absolute, normalised paths).
std::mutex& registryMutex() {
    static std::mutex m;
    return m;
}
std::set<std::string>& heldTargets() {
    static std::set<std::string> s;
    return s;
}

std::string keyOf(const std::string& target) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path p = fs::weakly_canonical(fs::absolute(target), ec);
    return ec ? fs::absolute(target).lexically_normal().string() : p.string();
}

// A whole-file write lock on an open file description; false when another holds it.
bool tryLock(int fd, const std::string& target, const std::string& lockPath) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (::fcntl(fd, F_OFD_SETLK, &fl) == 0) return true;
    if (errno == EAGAIN || errno == EACCES) return false;
    throw OutputError(target, "cannot lock '" + lockPath + "' (" + std::strerror(errno) +
                                  "): this file system does not support file locks; write the experiment to a local disk");
}

std::string nowUtc() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string hostName() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "?";
    return buf;
}

std::optional<LockHolder> parseHolder(const std::string& text) {
    std::istringstream in(text);
    LockHolder h;
    if (!(in >> h.pid >> h.host >> h.since)) return std::nullopt;
    std::getline(in >> std::ws, h.purpose);
    return h;
}

std::string readAll(int fd) {
    std::string text;
    char buf[512];
    ssize_t n;
    off_t off = 0;
    while ((n = ::pread(fd, buf, sizeof buf, off)) > 0) {
        text.append(buf, static_cast<std::size_t>(n));
        off += n;
    }
    return text;
}

}  // namespace

std::string LockHolder::describe() const {
    std::string s = "pid " + std::to_string(pid) + " on host " + host;
    if (pid == static_cast<long>(::getpid()) && host == hostName()) s += ", this process";
    return s + " (" + (purpose.empty() ? "" : purpose + ", ") + "since " + since + ")";
}

LockedError::LockedError(const std::string& target, const std::optional<LockHolder>& holder)
    : InvalidArgument(target + " is being written by " + (holder ? holder->describe() : std::string("another process")) +
                      "; one writer per file: wait for it to finish, or write to another file (readers such as "
                      "`report` need no lock)") {}

std::string WriterLock::lockPathOf(const std::string& target) { return target + ".lock"; }

WriterLock::WriterLock(const std::string& target, const std::string& purpose, double waitSeconds)
    : m_target(target), m_lockPath(lockPathOf(target)), m_key(keyOf(target)) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(std::max(0.0, waitSeconds));
    for (;;) {
        const int fd = ::open(m_lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) throw OutputError(target, "cannot create its lock file '" + m_lockPath + "': " + std::strerror(errno));
        bool locked = false;
        try {
            locked = tryLock(fd, target, m_lockPath);
        } catch (...) {
            ::close(fd);
            throw;
        }
        if (!locked) {
            ::close(fd);
            if (std::chrono::steady_clock::now() >= deadline) throw LockedError(target, holder(target));
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
        }
        // The previous holder removes the lock file as it lets go: a lock on a file that is no
        // longer at m_lockPath guards nothing, so start again with the new one.
        struct stat mine {}, there {};
        if (::fstat(fd, &mine) != 0 || ::stat(m_lockPath.c_str(), &there) != 0 || mine.st_ino != there.st_ino ||
            mine.st_dev != there.st_dev) {
            ::close(fd);
            continue;
        }
        m_fd = fd;
        break;
    }
    std::ostringstream info;
    info << ::getpid() << " " << hostName() << " " << nowUtc() << " "
         << (purpose.empty() ? std::string(program_invocation_short_name) : purpose) << "\n";
    const std::string text = info.str();
    if (::ftruncate(m_fd, 0) != 0 || ::pwrite(m_fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
        // Only the holder's name is lost; the lock itself holds.
    }
    std::lock_guard<std::mutex> g(registryMutex());
    heldTargets().insert(m_key);
}

WriterLock::WriterLock(WriterLock&& other) noexcept
    : m_target(std::move(other.m_target)), m_lockPath(std::move(other.m_lockPath)), m_key(std::move(other.m_key)),
      m_fd(other.m_fd) {
    other.m_fd = -1;
}

WriterLock::~WriterLock() {
    if (m_fd < 0) return;
    {
        std::lock_guard<std::mutex> g(registryMutex());
        heldTargets().erase(m_key);
    }
    ::unlink(m_lockPath.c_str());  // while still holding it: see the constructor's inode check
    ::close(m_fd);
}

std::optional<WriterLock> WriterLock::unlessHeldHere(const std::string& target, const std::string& purpose) {
    {
        std::lock_guard<std::mutex> g(registryMutex());
        if (heldTargets().count(keyOf(target))) return std::nullopt;
    }
    return std::optional<WriterLock>(std::in_place, target, purpose);
}

std::optional<LockHolder> WriterLock::holder(const std::string& target) {
    const std::string path = lockPathOf(target);
    for (int attempt = 0; attempt < 20; ++attempt) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return std::nullopt;
        struct flock fl {};
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        const bool held = ::fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
        const std::string text = held ? readAll(fd) : "";
        ::close(fd);
        if (!held) return std::nullopt;
        if (auto h = parseHolder(text)) return h;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // locked, its name not yet written
    }
    return std::nullopt;
}

}  // namespace ms::core::io
