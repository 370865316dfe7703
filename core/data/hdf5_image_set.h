// Users' own data as one HDF5 file (format in docs/data.md, readable and writable with h5py):
//   /images        uint8 [N, C, H, W] or [N, H, W]; or float32 in [0, 1] (stored ×255, rounded)
//   /labels        integer [N]                               (optional)
//   /targets       float32 [N, K, H, W]: dense targets        (optional)
//   /splits/NAME   integer indices into N (train, test, ...)  (optional)
//   root attributes: mergescope_image_set = 1, name, class_names (JSON list)  (optional)
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/data/image_set.h"

namespace ms::core::data {

struct Hdf5ImageSet {
    ImageSet images;
    std::vector<float> targets;  // N × targetChannels × H × W, or empty
    std::int64_t targetChannels = 0;
    std::map<std::string, std::vector<std::size_t>> splits;
    std::vector<std::string> classNames;
};

// Throws IoError/FormatError naming the file and the dataset at fault.
Hdf5ImageSet loadHdf5ImageSet(const std::string& path);

}  // namespace ms::core::data
