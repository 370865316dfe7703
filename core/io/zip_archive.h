// Read-only access to the entries of a zip archive held in a MappedFile. PyTorch's zip
// checkpoints store entries uncompressed and 64-byte aligned, so a stored entry is returned as
// a view into the mapping (zero copy); deflated entries (a re-zipped file) are inflated.
// Handles ZIP64. Every offset and size is checked against the file before use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/io/mapped_file.h"
#include "core/io/tensor_source.h"

namespace ms::core::io {

class ZipArchive {
public:
    struct Entry {
        std::string name;
        std::uint16_t method = 0;  // 0 stored, 8 deflate
        std::uint64_t compressedSize = 0;
        std::uint64_t size = 0;
        std::uint64_t dataOffset = 0;  // absolute offset of the entry's bytes
    };

    // Throws FormatError naming the file when the archive structure is invalid.
    explicit ZipArchive(std::shared_ptr<const MappedFile> file);

    const std::vector<Entry>& entries() const { return m_entries; }
    const Entry* find(const std::string& name) const;
    // The entry's uncompressed bytes.
    TensorData read(const Entry& e) const;
    const std::string& path() const { return m_file->path(); }

private:
    void parse();
    std::shared_ptr<const MappedFile> m_file;
    std::vector<Entry> m_entries;
    std::unordered_map<std::string, std::size_t> m_index;
};

}  // namespace ms::core::io
