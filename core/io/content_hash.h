// Content hashes for provenance: XXH3-128 of a file's bytes, printed as 32 hex digits. The
// same value as `xxhsum -H2 FILE` (Debian package xxhash), so users can check it themselves.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/jobs/progress.h"

namespace ms::core::io {

// Streams the file through a fixed buffer (resident memory stays flat for any file size). A file
// this process hashed before, unchanged since (same inode, size, mtime and ctime), is not read again.
std::string hashFile(const std::string& path, ProgressSink& progress = nullProgress(),
                     const CancelToken* cancel = nullptr);

// XXH3-128 of a byte range, as 32 hex digits.
std::string hashBytes(const void* data, std::size_t size);

// Combines several hashes (e.g. of the shards of one checkpoint) into one.
std::string combineHashes(const std::vector<std::string>& hashes);

}  // namespace ms::core::io
