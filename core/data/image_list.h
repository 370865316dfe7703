// Where a kit's images are, before anything is decoded: the files of an ImageFolder tree (one
// sub-folder per class, as torchvision's ImageFolder: classes are the sorted folder names, files
// found recursively and sorted), of a flat folder (unlabelled), of a CSV list (`path[,label]`,
// optional header, paths relative to the CSV, labels integers or class names), an HDF5 image
// set (docs/data.md), or IDX images as the MNIST family ships them (`train-images-idx3-ubyte.gz`,
// labelled by the `train-labels-idx1-ubyte.gz` beside it). Listing is cheap, so a kit can be checked and sampled before decoding; only
// the images a suite draws are decoded (in parallel) by loadImages.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/data/hdf5_image_set.h"
#include "core/data/image_set.h"
#include "core/data/preprocess.h"
#include "core/jobs/progress.h"

namespace ms::core::data {

struct ImageList {
    std::string source;  // the folder or file as given
    std::string kind;    // "imagefolder", "folder" (unlabelled), "csv", "hdf5", "idx"
    std::vector<std::string> files;     // full paths (not hdf5)
    std::vector<std::string> relative;  // each file relative to the source's folder (for target files)
    std::vector<std::int32_t> labels;   // one per image, or empty
    std::vector<std::string> classNames;
    std::shared_ptr<const Hdf5ImageSet> hdf5;  // kinds hdf5 and idx: the whole set, in memory

    std::size_t count() const;
    bool labelled() const { return !labels.empty(); }
    int classes() const;
};

// Throws IoError/FormatError naming the path (missing, empty, no images, bad CSV row, ...).
ImageList listImages(const std::string& path);

// Decodes and preprocesses the images at `indices` (in that order) into one set; every image
// must come out the same size. FormatError names the first file that fails.
ImageSet loadImages(const ImageList& list, const std::vector<std::size_t>& indices, const Preprocess& preprocess,
                    const std::string& name, ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);

// Dense targets of the images at `indices`, after the images' geometry: from files in `dir`
// with the image's relative path (or its file name) and the extension .png or .npy, from one
// file of maps when `dir` is a file (IDX, or a .npy array N×H×W[×C], in the images' order), or
// from an HDF5 set's /targets when `dir` is empty. Values as stored (PNG samples, or numbers)
// times `scale`, N × C × H × W floats (C = 1, or 3 for normals maps).
struct TargetMaps {
    std::int64_t count = 0, height = 0, width = 0;
    int channels = 1;
    int bits = 8;  // 16 when any map was a 16-bit PNG; 32 for stored numbers (.npy, IDX float32, HDF5)
    std::vector<float> values;
};
TargetMaps loadTargets(const ImageList& list, const std::vector<std::size_t>& indices, const std::string& dir,
                       const Preprocess& preprocess, double scale, const CancelToken* cancel = nullptr);
// One target file as stored: a PNG (8- or 16-bit, grey or RGB) or a .npy map.
TargetMap readTargetMap(const std::string& file);
// The target file of image `index` (for messages and checks); empty for HDF5 sets.
std::string targetFile(const ImageList& list, std::size_t index, const std::string& dir);
// Whether `targets` names one file of maps kept apart from the images — IDX, unsigned bytes (class
// indices) or float32 (values), N×H×W in the images' order (count checked when read) — rather than
// a folder of PNG maps.
bool isTargetMapFile(const std::string& targets);

}  // namespace ms::core::data
