// Output files that appear complete or not at all: data goes to a temporary file beside the
// target, which is fsync'ed and renamed over the target only on commit(). Destroying an
// uncommitted AtomicFile (error, cancel, exception) removes the temporary file. It holds the
// target's WriterLock while it lives (unless this process already holds it), so two writers of
// one output never interleave their renames unnoticed: the second is refused, naming the first.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/io/writer_lock.h"

namespace ms::core::io {

class AtomicFile {
public:
    explicit AtomicFile(std::string finalPath);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    AtomicFile(AtomicFile&& other) noexcept;

    int fd() const { return m_fd; }
    const std::string& tempPath() const { return m_tempPath; }
    const std::string& finalPath() const { return m_finalPath; }

    // Reserves `size` bytes on disk so that a full disk is an error now, not a SIGBUS later
    // when the bytes are written through a mapping.
    void reserve(std::uint64_t size);
    void writeAll(const void* data, std::uint64_t size);
    // fsync, close and rename onto the final path. Throws IoError on failure.
    void commit();

private:
    std::string m_finalPath;
    std::optional<WriterLock> m_lock;
    std::string m_tempPath;
    int m_fd = -1;
    bool m_committed = false;
};

}  // namespace ms::core::io
