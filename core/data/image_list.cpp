#include "core/data/image_list.h"

#include "core/data/mnist_readers.h"
#include "core/data/npy.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "core/errors.h"
#include "core/jobs/parallel.h"

namespace ms::core::data {

namespace fs = std::filesystem;

std::size_t ImageList::count() const { return hdf5 ? static_cast<std::size_t>(hdf5->images.count) : files.size(); }

int ImageList::classes() const {
    if (!classNames.empty()) return static_cast<int>(classNames.size());
    int k = 0;
    for (auto l : labels) k = std::max(k, l + 1);
    return k;
}

namespace {

std::vector<std::string> imagesUnder(const fs::path& dir, bool recursive) {
    std::vector<std::string> out;
    std::error_code ec;
    if (recursive) {
        for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
            if (it->is_regular_file(ec) && isImageFileName(it->path().filename().string())) out.push_back(it->path().string());
    } else {
        for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
            if (it->is_regular_file(ec) && isImageFileName(it->path().filename().string())) out.push_back(it->path().string());
    }
    if (ec) throw IoError(dir.string(), "cannot list the folder: " + ec.message());
    std::sort(out.begin(), out.end());
    return out;
}

// One CSV row: fields split on commas, double quotes around a field allowed ("" is a quote).
std::vector<std::string> csvFields(const std::string& line) {
    std::vector<std::string> f(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') f.back() += '"', ++i;
            else if (c == '"') quoted = false;
            else f.back() += c;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            f.emplace_back();
        } else {
            f.back() += c;
        }
    }
    for (auto& s : f) {
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(0, 1);
    }
    return f;
}

bool isInteger(const std::string& s) {
    if (s.empty()) return false;
    std::size_t i = s[0] == '-' ? 1 : 0;
    return i < s.size() && s.find_first_not_of("0123456789", i) == std::string::npos;
}

ImageList listCsv(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw IoError(path, "cannot open the CSV list");
    ImageList l;
    l.source = path;
    l.kind = "csv";
    const fs::path root = fs::path(path).parent_path();
    std::vector<std::string> rawLabels;
    std::string line;
    int row = 0;
    bool anyLabel = false, anyMissing = false;
    while (std::getline(in, line)) {
        ++row;
        if (line.empty() || line == "\r" || line[0] == '#') continue;
        const auto f = csvFields(line);
        if (row == 1 && (f[0] == "path" || f[0] == "file" || f[0] == "filename" || f[0] == "image")) continue;  // a header
        if (f.size() > 2) throw FormatError(path, "row " + std::to_string(row) + ": expected path[,label], got " + std::to_string(f.size()) + " fields");
        if (f[0].empty()) throw FormatError(path, "row " + std::to_string(row) + ": no path");
        const fs::path p = fs::path(f[0]).is_absolute() ? fs::path(f[0]) : root / f[0];
        l.files.push_back(p.lexically_normal().string());
        l.relative.push_back(f[0]);
        const std::string label = f.size() > 1 ? f[1] : "";
        (label.empty() ? anyMissing : anyLabel) = true;
        rawLabels.push_back(label);
    }
    if (l.files.empty()) throw FormatError(path, "the CSV list names no images");
    if (anyLabel && anyMissing) throw FormatError(path, "some rows have a label and some do not");
    if (anyLabel) {
        const bool numeric = std::all_of(rawLabels.begin(), rawLabels.end(), isInteger);
        if (numeric) {
            for (std::size_t i = 0; i < rawLabels.size(); ++i) {
                const long v = std::stol(rawLabels[i]);
                if (v < 0 || v > 1000000) throw FormatError(path, "image " + l.relative[i] + ": label " + rawLabels[i] + " is out of range");
                l.labels.push_back(static_cast<std::int32_t>(v));
            }
        } else {
            const std::set<std::string> names(rawLabels.begin(), rawLabels.end());
            l.classNames.assign(names.begin(), names.end());
            for (const auto& r : rawLabels)
                l.labels.push_back(static_cast<std::int32_t>(std::lower_bound(l.classNames.begin(), l.classNames.end(), r) - l.classNames.begin()));
        }
    }
    return l;
}

ImageList listFolder(const std::string& path) {
    ImageList l;
    l.source = path;
    std::vector<std::string> classes;
    std::error_code ec;
    for (auto it = fs::directory_iterator(path, fs::directory_options::follow_directory_symlink, ec);
         !ec && it != fs::directory_iterator(); it.increment(ec))
        if (it->is_directory(ec)) classes.push_back(it->path().filename().string());
    if (ec) throw IoError(path, "cannot list the folder: " + ec.message());
    std::sort(classes.begin(), classes.end());
    std::vector<std::string> classesWithImages;
    for (const auto& c : classes) {
        const auto files = imagesUnder(fs::path(path) / c, true);
        if (files.empty()) continue;
        const auto label = static_cast<std::int32_t>(classesWithImages.size());
        classesWithImages.push_back(c);
        for (const auto& f : files) {
            l.files.push_back(f);
            l.relative.push_back(fs::path(f).lexically_relative(path).string());
            l.labels.push_back(label);
        }
    }
    if (!classesWithImages.empty()) {
        l.kind = "imagefolder";
        l.classNames = classesWithImages;
        return l;
    }
    l.kind = "folder";
    for (const auto& f : imagesUnder(path, false)) {
        l.files.push_back(f);
        l.relative.push_back(fs::path(f).filename().string());
    }
    if (l.files.empty()) throw FormatError(path, "no JPEG or PNG images here (an ImageFolder has one sub-folder of images per class)");
    return l;
}

// HWC → CHW into `dst`.
void toPlanar(const DecodedImage& img, std::uint8_t* dst) {
    const std::size_t n = static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height);
    const auto C = static_cast<std::size_t>(img.channels);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < C; ++c) dst[c * n + i] = img.pixels[i * C + c];
}

DecodedImage hdf5Image(const Hdf5ImageSet& s, std::size_t index) {
    DecodedImage img;
    img.width = static_cast<int>(s.images.width);
    img.height = static_cast<int>(s.images.height);
    img.channels = static_cast<int>(s.images.channels);
    const std::size_t n = static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height);
    const auto C = static_cast<std::size_t>(img.channels);
    img.pixels.resize(n * C);
    const std::uint8_t* src = s.images.image(index);
    for (std::size_t c = 0; c < C; ++c)
        for (std::size_t i = 0; i < n; ++i) img.pixels[i * C + c] = src[c * n + i];
    return img;
}

}  // namespace

namespace {

// The MNIST family's own format: "<split>-images-idx3-ubyte[.gz]" (uint8 N×H×W), labelled by
// "<split>-labels-idx1-ubyte[.gz]" beside it when that file exists. Held in memory like an HDF5
// set (60,000 Fashion-MNIST images are 47 MB).
bool isIdxImages(const std::string& path) {
    const std::string name = fs::path(path).filename().string();
    return name.find("-images-idx3-ubyte") != std::string::npos || name.find("-images.idx3-ubyte") != std::string::npos;
}

ImageList listIdx(const std::string& path) {
    auto set = std::make_shared<Hdf5ImageSet>();
    ImageSet& images = set->images;
    std::vector<std::int64_t> dims;
    images.pixels = readIdx(path, dims);
    if (dims.size() != 3) throw FormatError(path, "IDX images must be N×H×W (magic 0x0803), not " + std::to_string(dims.size()) + "-D");
    images.name = fs::path(path).filename().string();
    images.count = dims[0];
    images.height = dims[1];
    images.width = dims[2];
    images.channels = 1;
    if (images.count == 0) throw FormatError(path, "the image set is empty");
    std::string labelsPath = path;
    const std::pair<std::string, std::string> kNames[] = {{"-images-idx3-ubyte", "-labels-idx1-ubyte"},
                                                          {"-images.idx3-ubyte", "-labels.idx1-ubyte"}};
    for (const auto& [imagesName, labelsName] : kNames)
        if (const auto at = labelsPath.rfind(imagesName); at != std::string::npos) {
            labelsPath.replace(at, imagesName.size(), labelsName);
            break;
        }
    std::error_code ec;
    if (fs::exists(labelsPath, ec)) {
        std::vector<std::int64_t> ldims;
        const std::vector<std::uint8_t> labels = readIdx(labelsPath, ldims);
        if (ldims.size() != 1 || ldims[0] != images.count)
            throw FormatError(labelsPath, "holds " + std::to_string(ldims.empty() ? 0 : ldims[0]) + " labels for the " +
                                              std::to_string(images.count) + " images of " + path);
        int classes = 0;
        for (std::uint8_t l : labels) {
            images.labels.push_back(l);
            classes = std::max(classes, static_cast<int>(l) + 1);
        }
        images.classes = classes;
    }
    ImageList l;
    l.source = path;
    l.kind = "idx";
    l.labels = images.labels;
    l.hdf5 = set;
    return l;
}

}  // namespace

ImageList listImages(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw IoError(path, "no such file or folder");
    if (fs::is_directory(path, ec)) return listFolder(path);
    std::string ext = fs::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext == ".csv" || ext == ".txt") return listCsv(path);
    if (ext == ".h5" || ext == ".hdf5") {
        ImageList l;
        l.source = path;
        l.kind = "hdf5";
        auto set = std::make_shared<Hdf5ImageSet>(loadHdf5ImageSet(path));
        if (set->images.count == 0) throw FormatError(path, "the image set is empty");
        l.labels = set->images.labels;
        l.classNames = set->classNames;
        l.hdf5 = set;
        return l;
    }
    if (isIdxImages(path)) return listIdx(path);
    throw FormatError(path, "not an image source: give an ImageFolder or image folder, a .csv list, an .h5 image set or "
                            "IDX images (*-images-idx3-ubyte[.gz])");
}

ImageSet loadImages(const ImageList& list, const std::vector<std::size_t>& indices, const Preprocess& p,
                    const std::string& name, ProgressSink& progress, const CancelToken* cancel) {
    p.validate();
    ImageSet out;
    out.name = name;
    out.count = static_cast<std::int64_t>(indices.size());
    out.channels = p.channels;
    out.mean = p.mean;
    out.std = p.std;
    if (indices.empty()) return out;
    const auto N = list.count();
    for (auto i : indices)
        if (i >= N) throw InvalidArgument(list.source + ": image index " + std::to_string(i) + " out of range");
    auto decodeOne = [&](std::size_t k) {
        const std::size_t i = indices[k];
        if (list.hdf5) return preprocessImage(hdf5Image(*list.hdf5, i), p, list.source + " image " + std::to_string(i));
        return preprocessImage(decodeImageFile(list.files[i]), p, list.files[i]);
    };
    // The first image fixes the size; the rest decode in parallel into place.
    const DecodedImage first = decodeOne(0);
    out.width = first.width;
    out.height = first.height;
    out.pixels.resize(indices.size() * out.imageSize());
    toPlanar(first, out.pixels.data());
    std::atomic<std::size_t> done{1};
    std::mutex reportMutex;
    parallelFor(indices.size() - 1, 8, [&](unsigned, std::size_t begin, std::size_t end) {
        for (std::size_t k = begin + 1; k < end + 1; ++k) {
            if (cancel) cancel->throwIfCancelled();
            const DecodedImage img = decodeOne(k);
            if (img.width != out.width || img.height != out.height) {
                const std::string f = list.hdf5 ? list.source : list.files[indices[k]];
                throw FormatError(f, "the image is " + std::to_string(img.width) + "×" + std::to_string(img.height) +
                                         " after preprocessing, the others " + std::to_string(out.width) + "×" +
                                         std::to_string(out.height) + " (set a crop in the kit's preprocess)");
            }
            toPlanar(img, out.pixels.data() + k * out.imageSize());
            const std::size_t d = ++done;
            if (d % 64 == 0) {
                std::lock_guard<std::mutex> g(reportMutex);
                progress.report("decoding " + name, d, indices.size());
            }
        }
    });
    progress.report("decoding " + name, indices.size(), indices.size());
    if (list.labelled()) {
        out.classes = list.classes();
        for (auto i : indices) out.labels.push_back(list.labels[i]);
    }
    if (!list.hdf5)
        for (auto i : indices) out.files.push_back(list.files[i]);
    return out;
}

bool isTargetMapFile(const std::string& path) {
    std::error_code ec;
    return !path.empty() && fs::is_regular_file(path, ec);
}

std::string targetFile(const ImageList& list, std::size_t index, const std::string& dir) {
    if (isTargetMapFile(dir)) return dir;
    if (list.hdf5 || dir.empty()) return {};
    // The image's relative path, or its file name, with the extension .png or .npy (the map's
    // own format), whichever exists; the .png path when neither does (for the message).
    const fs::path rel(list.relative.at(index));
    std::error_code ec;
    for (const fs::path& where : {fs::path(dir) / rel, fs::path(dir) / rel.filename()})
        for (const char* ext : {".png", ".npy"}) {
            const fs::path f = fs::path(where).replace_extension(ext);
            if (fs::exists(f, ec)) return f.string();
        }
    return (fs::path(dir) / rel).replace_extension(".png").string();
}

TargetMap readTargetMap(const std::string& f) {
    TargetMap t;
    if (isNpyFile(f)) {
        const NpyArray a = readNpy(f);
        const NpyLayout l = npyImageLayout(a, f);
        t.width = l.width;
        t.height = l.height;
        t.channels = l.channels;
        t.bits = 32;
        t.values.resize(a.values.size());
        std::size_t k = 0;
        for (int y = 0; y < l.height; ++y)
            for (int x = 0; x < l.width; ++x)
                for (int c = 0; c < l.channels; ++c) t.values[k++] = a.values[l.at(y, x, c)];
        return t;
    }
    const DecodedImage d = decodeImageFile(f, true);
    t.width = d.width;
    t.height = d.height;
    t.channels = d.channels;
    t.bits = d.bits;
    if (d.bits == 16) t.values.assign(d.pixels16.begin(), d.pixels16.end());
    else t.values.assign(d.pixels.begin(), d.pixels.end());
    return t;
}

TargetMaps loadTargets(const ImageList& list, const std::vector<std::size_t>& indices, const std::string& dir,
                       const Preprocess& p, double scale, const CancelToken* cancel) {
    TargetMaps out;
    out.count = static_cast<std::int64_t>(indices.size());
    if (indices.empty()) return out;
    // Every map through the images' geometry into its place (planar, N × C × H × W); the first
    // fixes the size and the channels.
    std::mutex m;
    const auto place = [&](std::size_t k, TargetMap t, const std::string& name) {
        t = preprocessTarget(std::move(t), p, name);
        std::lock_guard<std::mutex> g(m);
        if (out.values.empty()) {
            out.width = t.width;
            out.height = t.height;
            out.channels = t.channels;
            out.values.resize(indices.size() * t.values.size());
        } else if (t.width != out.width || t.height != out.height || t.channels != out.channels) {
            throw FormatError(name, "the target is " + std::to_string(t.width) + "×" + std::to_string(t.height) + "×" + std::to_string(t.channels) +
                                        " after preprocessing, the others " + std::to_string(out.width) + "×" + std::to_string(out.height) + "×" +
                                        std::to_string(out.channels));
        }
        out.bits = std::max(out.bits, t.bits);
        const std::size_t plane = static_cast<std::size_t>(t.width) * static_cast<std::size_t>(t.height);
        const auto C = static_cast<std::size_t>(t.channels);
        float* dst = out.values.data() + k * plane * C;
        for (std::size_t i = 0; i < plane; ++i)
            for (std::size_t c = 0; c < C; ++c) dst[c * plane + i] = static_cast<float>(t.values[i * C + c] * scale);
    };
    // Maps held as planes (an HDF5 set's /targets, or one file of maps), one channel each.
    const auto fromPlanes = [&](const float* planes, int H, int W, int C, int bits, bool picked, const std::string& name) {
        const std::size_t plane = static_cast<std::size_t>(H) * static_cast<std::size_t>(W) * static_cast<std::size_t>(C);
        for (std::size_t k = 0; k < indices.size(); ++k) {
            const float* src = planes + (picked ? k : indices[k]) * plane;
            place(k, TargetMap{W, H, C, bits, std::vector<float>(src, src + plane)}, name);
        }
        return out;
    };
    if (dir.empty()) {
        if (!list.hdf5 || list.hdf5->targets.empty())
            throw FormatError(list.source, "dense targets are needed: give `targets` (a folder of PNG or .npy maps, or one file of maps) for this task");
        const auto& s = *list.hdf5;
        if (s.targetChannels != 1) throw FormatError(list.source, "/targets must have one channel per pixel for a kit task");
        return fromPlanes(s.targets.data(), static_cast<int>(s.images.height), static_cast<int>(s.images.width), 1, 32, false, list.source);
    }
    if (isTargetMapFile(dir) && isNpyFile(dir)) {  // N×H×W (or N×H×W×C) maps in one array
        const NpyArray a = readNpy(dir);
        if (a.shape.size() != 3 && !(a.shape.size() == 4 && (a.shape[3] == 1 || a.shape[3] == 3)))
            throw FormatError(dir, "a file of target maps must be N×H×W or N×H×W×C (C = 1 or 3)");
        if (static_cast<std::size_t>(a.shape[0]) != list.count())
            throw FormatError(dir, "holds " + std::to_string(a.shape[0]) + " maps for the " + std::to_string(list.count()) + " images of " + list.source);
        const int H = static_cast<int>(a.shape[1]), W = static_cast<int>(a.shape[2]), C = a.shape.size() == 4 ? static_cast<int>(a.shape[3]) : 1;
        const std::size_t each = static_cast<std::size_t>(H) * static_cast<std::size_t>(W) * static_cast<std::size_t>(C);
        for (std::size_t k = 0; k < indices.size(); ++k) {
            const float* src = a.values.data() + indices[k] * each;
            place(k, TargetMap{W, H, C, 32, std::vector<float>(src, src + each)}, dir);
        }
        return out;
    }
    if (isTargetMapFile(dir)) {
        std::vector<std::int64_t> dims;
        int bits = 8;
        const std::vector<float> maps = readIdxPlanes(dir, indices, dims, bits);
        if (dims.size() != 3 && !(dims.size() == 4 && (dims[3] == 1 || dims[3] == 3)))
            throw FormatError(dir, "target maps must be N×H×W or N×H×W×C (C = 1 or 3), not " + std::to_string(dims.size()) + "-D" +
                                       (dims.size() == 4 ? " with " + std::to_string(dims[3]) + " channels" : ""));
        if (static_cast<std::size_t>(dims[0]) != list.count())
            throw FormatError(dir, "holds " + std::to_string(dims[0]) + " maps for the " + std::to_string(list.count()) + " images of " + list.source);
        return fromPlanes(maps.data(), static_cast<int>(dims[1]), static_cast<int>(dims[2]), dims.size() == 4 ? static_cast<int>(dims[3]) : 1,
                          bits, true, dir);
    }
    parallelFor(indices.size(), 8, [&](unsigned, std::size_t begin, std::size_t end) {
        for (std::size_t k = begin; k < end; ++k) {
            if (cancel) cancel->throwIfCancelled();
            const std::string f = targetFile(list, indices[k], dir);
            place(k, readTargetMap(f), f);
        }
    });
    return out;
}

}  // namespace ms::core::data
