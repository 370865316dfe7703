// Decoded image sets kept by content: the images a kit load draws (probe, re-alignment, eval),
// decoded and preprocessed once, read back by later loads. Keyed by each drawn file's content
// hash (XXH3-128), the draw's order, the labels and the preprocessing; ~/.cache/mergescope/images
// under the cache cap. HDF5 and IDX sets (already in memory) are not cached.
#pragma once

#include <string>
#include <vector>

#include "core/data/image_list.h"

namespace ms::core::data {

// loadImages, through the cache in `cacheDir` ("" for none). A damaged entry is decoded again and
// replaced; a read-only cache only costs the decoding.
ImageSet loadImagesCached(const ImageList& list, const std::vector<std::size_t>& indices, const Preprocess& preprocess,
                          const std::string& name, const std::string& cacheDir, ProgressSink& progress = nullProgress(),
                          const CancelToken* cancel = nullptr);

}  // namespace ms::core::data
