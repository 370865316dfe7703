#include "core/io/cache_store.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "core/errors.h"
#include "core/io/cache_paths.h"

namespace ms::core::io {

namespace fs = std::filesystem;

namespace {

struct Entry {
    fs::path path;
    std::uint64_t bytes = 0;
    fs::file_time_type used;
};

std::vector<Entry> entries(const std::string& dir) {
    std::vector<Entry> out;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        Entry e;
        e.path = it->path();
        e.bytes = it->file_size(ec);
        e.used = it->last_write_time(ec);
        if (!ec) out.push_back(std::move(e));
    }
    return out;
}

}  // namespace

const std::vector<std::string>& cacheKinds() {
    static const std::vector<std::string> kinds = {"features", "statistics", "heads", "scores", "images"};
    return kinds;
}

std::string cacheDir(const std::string& kind) {
    if (kind == "features") return featureCacheDir();
    if (kind == "statistics") return statisticsCacheDir();
    if (kind == "heads") return headCacheDir();
    if (kind == "scores") return scoreCacheDir();
    if (kind == "images") return imageCacheDir();
    throw InvalidArgument("unknown cache '" + kind + "' (features, statistics, heads, scores, images, all)");
}

std::vector<CacheUsage> cacheUsage() {
    std::vector<CacheUsage> out;
    for (const auto& kind : cacheKinds()) {
        CacheUsage u;
        u.kind = kind;
        u.dir = cacheDir(kind);
        for (const auto& e : entries(u.dir)) {
            u.bytes += e.bytes;
            ++u.files;
        }
        out.push_back(u);
    }
    return out;
}

std::uint64_t clearCache(const std::string& kind) {
    std::vector<std::string> kinds = kind == "all" ? cacheKinds() : std::vector<std::string>{kind};
    std::uint64_t freed = 0;
    for (const auto& k : kinds) {
        const std::string dir = cacheDir(k);
        for (const auto& e : entries(dir)) {
            std::error_code ec;
            if (fs::remove(e.path, ec)) freed += e.bytes;
        }
    }
    return freed;
}

std::uint64_t cacheCapBytes() {
    constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
    if (const char* v = std::getenv("MS_CACHE_MAX_GB"); v && *v) {
        char* end = nullptr;
        const double gb = std::strtod(v, &end);
        if (end != v && gb >= 0) return static_cast<std::uint64_t>(gb * kGiB);
    }
    return static_cast<std::uint64_t>(20 * kGiB);
}

void enforceCacheCap(const std::string& dir, std::uint64_t capBytes) {
    try {
        std::vector<Entry> all = entries(dir);
        std::uint64_t total = 0;
        for (const auto& e : all) total += e.bytes;
        if (total <= capBytes) return;
        std::sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) { return a.used < b.used; });
        for (const auto& e : all) {
            if (total <= capBytes) break;
            std::error_code ec;
            if (fs::remove(e.path, ec)) total -= e.bytes;
        }
    } catch (const std::exception&) {
        // a cache that cannot be trimmed is still a cache
    }
}

void touchCacheEntry(const std::string& file) {
    std::error_code ec;
    fs::last_write_time(file, fs::file_time_type::clock::now(), ec);
}

}  // namespace ms::core::io
