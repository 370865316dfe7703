#include "core/data/image_cache.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/atomic_file.h"
#include "core/io/cache_store.h"
#include "core/io/content_hash.h"

namespace ms::core::data {

namespace fs = std::filesystem;

namespace {

constexpr const char* kMagic = "MSIMAGES1\n";

std::string keyOf(const ImageList& list, const std::vector<std::size_t>& indices, const Preprocess& p) {
    std::string key = "images|1|" + p.key() + "|" + std::to_string(list.classes());
    for (std::size_t i : indices) {
        key += "|" + io::hashFile(list.files[i]);
        if (list.labelled()) key += ":" + std::to_string(list.labels[i]);
    }
    return io::hashBytes(key.data(), key.size());
}

bool readEntry(const std::string& file, ImageSet& out) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return false;
    std::string magic(std::string(kMagic).size(), '\0'), header;
    in.read(magic.data(), static_cast<std::streamsize>(magic.size()));
    if (magic != kMagic || !std::getline(in, header)) return false;
    const auto j = nlohmann::json::parse(header);
    out.count = j.at("count");
    out.channels = j.at("channels");
    out.height = j.at("height");
    out.width = j.at("width");
    out.classes = j.at("classes");
    out.labels = j.at("labels").get<std::vector<std::int32_t>>();
    out.mean = j.at("mean").get<std::vector<float>>();
    out.std = j.at("std").get<std::vector<float>>();
    out.pixels.resize(static_cast<std::size_t>(out.count) * out.imageSize());
    in.read(reinterpret_cast<char*>(out.pixels.data()), static_cast<std::streamsize>(out.pixels.size()));
    return in.gcount() == static_cast<std::streamsize>(out.pixels.size()) && in.peek() == std::char_traits<char>::eof();
}

void writeEntry(const std::string& file, const ImageSet& s) {
    const nlohmann::json j = {{"count", s.count}, {"channels", s.channels}, {"height", s.height}, {"width", s.width},
                              {"classes", s.classes}, {"labels", s.labels}, {"mean", s.mean}, {"std", s.std}};
    const std::string head = std::string(kMagic) + j.dump() + "\n";
    io::AtomicFile out(file);
    out.writeAll(head.data(), head.size());
    out.writeAll(s.pixels.data(), s.pixels.size());
    out.commit();
}

}  // namespace

ImageSet loadImagesCached(const ImageList& list, const std::vector<std::size_t>& indices, const Preprocess& preprocess,
                          const std::string& name, const std::string& cacheDir, ProgressSink& progress, const CancelToken* cancel) {
    if (cacheDir.empty() || list.hdf5 || indices.empty()) return loadImages(list, indices, preprocess, name, progress, cancel);
    preprocess.validate();
    for (std::size_t i : indices)
        if (i >= list.count()) return loadImages(list, indices, preprocess, name, progress, cancel);  // it names the problem
    std::string file;
    try {
        file = cacheDir + "/" + keyOf(list, indices, preprocess) + ".images";
        ImageSet cached;
        if (readEntry(file, cached)) {
            cached.name = name;
            for (std::size_t i : indices) cached.files.push_back(list.files[i]);
            io::touchCacheEntry(file);
            progress.report("decoding " + name + " (cached)", indices.size(), indices.size());
            return cached;
        }
    } catch (const std::exception&) {
        // damaged or unreadable: decoded again below
    }
    ImageSet out = loadImages(list, indices, preprocess, name, progress, cancel);
    if (!file.empty()) {
        try {
            fs::create_directories(cacheDir);
            writeEntry(file, out);
            io::enforceCacheCap(cacheDir);
        } catch (const std::exception&) {
            // a read-only or full cache: only time is lost next time
        }
    }
    return out;
}

}  // namespace ms::core::data
