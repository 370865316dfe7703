// A read-only memory map of a whole file. Tensor views point into it and keep it alive through
// a shared_ptr, so reading a checkpoint never copies tensor bytes. A file opened again while its
// mapping lives gets the same mapping (one set of resident pages per file and process).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace ms::core::io {

class MappedFile {
public:
    // Throws IoError if the file cannot be opened or mapped. An empty file maps to size 0.
    static std::shared_ptr<const MappedFile> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::string& path() const { return m_path; }
    const std::byte* data() const { return m_data; }
    std::uint64_t size() const { return m_size; }

    // Tell the kernel the pages of [offset, offset+len) are no longer needed (after a streaming
    // pass), which keeps resident memory flat while merging files larger than RAM.
    void release(std::uint64_t offset, std::uint64_t len) const;
    // The same for bytes given by address (a tensor viewing a checkpoint): drops the whole pages
    // of [data, data+len) when they lie in a live mapping; false (and nothing done) otherwise, so
    // it is safe to call on any memory.
    static bool releaseMapped(const void* data, std::uint64_t len);

private:
    MappedFile() = default;
    std::string m_path;
    std::byte* m_data = nullptr;
    std::uint64_t m_size = 0;
};

}  // namespace ms::core::io
