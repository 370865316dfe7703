#include "core/data/image_set.h"

#include <cstring>

#include "core/errors.h"

namespace ms::core::data {

ImageSet ImageSet::subset(const std::vector<std::size_t>& indices, const std::string& subsetName) const {
    ImageSet out;
    out.name = subsetName;
    out.count = static_cast<std::int64_t>(indices.size());
    out.channels = channels;
    out.height = height;
    out.width = width;
    out.classes = classes;
    out.mean = mean;
    out.std = std;
    out.pixels.resize(indices.size() * imageSize());
    for (std::size_t k = 0; k < indices.size(); ++k) {
        if (indices[k] >= static_cast<std::size_t>(count))
            throw InvalidArgument(name + ": image index " + std::to_string(indices[k]) + " out of range");
        std::memcpy(out.pixels.data() + k * imageSize(), image(indices[k]), imageSize());
        if (!labels.empty()) out.labels.push_back(labels[indices[k]]);
        if (!files.empty()) out.files.push_back(files[indices[k]]);
    }
    return out;
}

}  // namespace ms::core::data
