// Preprocessing of decoded images into what an encoder reads, as the model's Python pipeline does
// it: channels (grey ↔ RGB, alpha dropped first, as Hugging Face's image processors), resize of
// the shortest edge (torchvision's Resize(int): the long edge becomes int(size·long/short)),
// centre crop (torchvision's: top = round((h − crop)/2), halves to even), then per-channel mean/std at load time. Presets:
//   clip      RGB, shortest edge 224 bicubic, centre crop 224, CLIP's mean/std
//   imagenet  RGB, shortest edge 256 bilinear, centre crop 224, ImageNet's mean/std
//   none      the model's channels, no resize or crop (images must be the crop size), mean/std 0.5
// Dense targets (class masks, depth maps) follow the same geometry with nearest sampling.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/data/image_codec.h"
#include "core/data/resize.h"

namespace ms::core::data {

struct Preprocess {
    std::string preset;  // clip, imagenet, none, or "custom"
    int resize = 0;      // shortest edge; 0: no resize
    int crop = 0;        // centre crop side; 0: none (images keep their size)
    int channels = 3;    // 1 or 3
    std::vector<float> mean, std;  // per channel, of x/255
    Interpolation interpolation = Interpolation::Bicubic;

    // Throws InvalidArgument naming the field at fault.
    void validate() const;
    // A stable description, for cache keys and reports.
    std::string key() const;
};

// Throws InvalidArgument listing the presets.
Preprocess preprocessPreset(const std::string& name, int modelChannels, int modelImageSize);

// The image's size after resize (shortest edge) and before cropping.
std::pair<int, int> resizedSize(const Preprocess& p, int width, int height);
// Top and left of the centre crop of a width × height image, as torchvision computes them.
std::pair<int, int> cropOrigin(int width, int height, int crop);

// An image → crop × crop × channels HWC uint8 (or its own size without crop). FormatError
// naming `name` when the image is smaller than the crop.
DecodedImage preprocessImage(const DecodedImage& image, const Preprocess& p, const std::string& name);
// A dense target as read from its file: values as stored (PNG samples, or a .npy's numbers),
// interleaved channels (1, or 3 for surface normals).
struct TargetMap {
    int width = 0, height = 0, channels = 1;
    int bits = 8;  // 8 or 16 (PNG samples), 32 (stored numbers: .npy, IDX float32, HDF5)
    std::vector<float> values;  // height × width × channels
};
// A target through the images' geometry, nearest sampling (classes stay classes, invalid pixels
// stay invalid).
TargetMap preprocessTarget(TargetMap target, const Preprocess& p, const std::string& name);

}  // namespace ms::core::data
