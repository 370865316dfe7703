// What MergeScope keeps in its caches (features, statistics, zero-shot heads), how much, and
// keeping it under a size cap: `mergescope-cli cache info | clear`. Every entry can be rebuilt, so
// the least recently used go first when a write takes a cache over the cap (torch-free).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ms::core::io {

struct CacheUsage {
    std::string kind;  // features | statistics | heads | scores | images
    std::string dir;
    std::uint64_t bytes = 0;
    std::size_t files = 0;
};

// The caches' kinds, in a fixed order.
const std::vector<std::string>& cacheKinds();
// The folder of a kind; throws InvalidArgument naming the kinds for an unknown one.
std::string cacheDir(const std::string& kind);
std::vector<CacheUsage> cacheUsage();
// Removes every entry of `kind` ("all": every kind); returns the bytes freed. The demo kit and
// fetched data sets are not caches in this sense and are left alone.
std::uint64_t clearCache(const std::string& kind);
// The cap on each cache folder: $MS_CACHE_MAX_GB (a number of GiB), else 20 GiB.
std::uint64_t cacheCapBytes();
// After a write into `dir`: removes its least recently used files (by modification time, which
// a cache hit refreshes with touchCacheEntry) until it holds at most `capBytes`. Never throws.
void enforceCacheCap(const std::string& dir, std::uint64_t capBytes = cacheCapBytes());
// Marks an entry as used now (so that the cap removes it last). Never throws.
void touchCacheEntry(const std::string& file);

}  // namespace ms::core::io
