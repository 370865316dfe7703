// Parsing and validation of a safetensors header: the 8-byte little-endian length and the JSON
// that follows. Separate from the reader so that it can be fuzzed on bytes in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/io/tensor_source.h"

namespace ms::core::io {

struct SafetensorsEntry {
    TensorInfo info;
    std::uint64_t begin = 0;  // byte offsets relative to the start of the data section
    std::uint64_t end = 0;
};

struct SafetensorsHeader {
    std::vector<SafetensorsEntry> entries;  // in data-offset order
    Metadata metadata;
    std::uint64_t dataOffset = 0;  // 8 + header length
};

// The safetensors spec caps the header at 100 MB; a larger length is corrupt or hostile.
constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;

// `bytes` holds at least min(fileSize, 8 + header length) bytes of the file's start. Throws
// FormatError naming `path` (and the tensor) with the reason: short file, absurd length, bad
// JSON, unknown dtype, size/offset disagreement, out-of-range or overlapping offsets.
SafetensorsHeader parseSafetensorsHeader(const std::byte* bytes, std::uint64_t fileSize,
                                         const std::string& path);

// Serialises a header for the writer: JSON padded with spaces to a multiple of 8 bytes,
// preceded by its length. Entries' offsets must already be set.
std::string serializeSafetensorsHeader(const std::vector<SafetensorsEntry>& entries,
                                       const Metadata& metadata);

}  // namespace ms::core::io
