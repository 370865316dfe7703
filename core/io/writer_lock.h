// One writer per file, enforced by the operating system (torch-free). A WriterLock holds an
// exclusive lock on "<target>.lock" beside the file it guards for as long as it lives: an
// open-file-description lock (fcntl F_OFD_SETLK), which conflicts between processes, between
// machines on a file system whose locks reach the server (NFS with lockd, Lustre, GPFS, CephFS),
// and between two WriterLocks of one process. The kernel drops it when the holder dies — even
// under kill -9 — so a crashed writer never leaves the file locked; the lock file may be left
// behind, harmless, and is removed by the next holder when it lets go.
//
// Who holds a lock writes "pid host since purpose" into the lock file, so a refused writer can
// name it. Readers never take the lock.
//
// Two levels of use:
//   WriterLock lock(path, "mergescope-cli sweep")   a run that owns a file for its whole write
//                                                    (read, change, append, rewrite);
//   auto held = WriterLock::unlessHeldHere(path)     a single write (AtomicFile, writeExperiment):
//                                                    takes the lock unless this process already
//                                                    holds it (its owner is the caller's run).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/errors.h"

namespace ms::core::io {

struct LockHolder {
    long pid = 0;
    std::string host, since, purpose;
    std::string describe() const;  // "pid 4242 on host node7 (mergescope-cli sweep, since 2026-...)"
};

// Another writer holds the file: the user's to resolve (wait for it, or write elsewhere), so it
// is an InvalidArgument (exit code 2). The message names the file and the holder.
class LockedError : public InvalidArgument {
public:
    LockedError(const std::string& target, const std::optional<LockHolder>& holder);
};

class WriterLock {
public:
    // Takes the lock on `target`, waiting up to `waitSeconds` (0: refuse at once) for another
    // writer to finish. Throws LockedError, or OutputError when no lock file can be made there.
    explicit WriterLock(const std::string& target, const std::string& purpose = "", double waitSeconds = 0);
    ~WriterLock();
    WriterLock(WriterLock&& other) noexcept;
    WriterLock& operator=(WriterLock&&) = delete;
    WriterLock(const WriterLock&) = delete;

    const std::string& target() const { return m_target; }
    const std::string& lockPath() const { return m_lockPath; }

    // The lock for one write: a new WriterLock, or none when a WriterLock of this process
    // already guards `target`.
    static std::optional<WriterLock> unlessHeldHere(const std::string& target, const std::string& purpose = "");
    // Who holds `target`'s lock now (read from its lock file), if anyone does.
    static std::optional<LockHolder> holder(const std::string& target);
    static std::string lockPathOf(const std::string& target);

private:
    std::string m_target, m_lockPath, m_key;
    int m_fd = -1;
};

}  // namespace ms::core::io
