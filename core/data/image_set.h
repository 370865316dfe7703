// A set of images with labels, as kits and downstream evaluation use them: N×C×H×W uint8 pixels
// (0..255, already resized and cropped) in memory, one integer class label per image (or none),
// and the per-channel normalisation the encoder expects. Dense targets travel beside it (a user
// kit's target files, or the demo's definitions computed from the pixels).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ms::core::data {

struct ImageSet {
    std::string name;  // e.g. "fashion-mnist/train"
    std::int64_t count = 0, channels = 1, height = 0, width = 0;
    std::vector<std::uint8_t> pixels;  // count × channels × height × width
    std::vector<std::int32_t> labels;  // count entries, or empty
    int classes = 0;                   // number of label values (0 when unlabelled)
    std::vector<float> mean, std;      // per channel, of x/255; empty: 0.5 and 0.5 (pixels to [-1, 1])
    std::vector<std::string> files;    // where each image came from (user kits; empty for built-in data)

    std::size_t imageSize() const { return static_cast<std::size_t>(channels * height * width); }
    const std::uint8_t* image(std::size_t i) const { return pixels.data() + i * imageSize(); }
    // The images at `indices`, in that order (labels follow).
    ImageSet subset(const std::vector<std::size_t>& indices, const std::string& name) const;
};

}  // namespace ms::core::data
