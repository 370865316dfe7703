#include "core/io/safetensors_reader.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/errors.h"
#include "core/io/mapped_file.h"
#include "core/io/safetensors_header.h"

namespace ms::core::io {

namespace {

struct Location {
    std::size_t file = 0;
    std::uint64_t offset = 0;  // absolute offset in that file
};

class SafetensorsSource final : public TensorSource {
public:
    explicit SafetensorsSource(std::string path) : TensorSource(std::move(path)) {}

    std::string_view format() const override { return "safetensors"; }
    std::vector<std::string> files() const override {
        std::vector<std::string> out;
        for (const auto& f : m_files) out.push_back(f->path());
        return out;
    }

    // Maps one file and registers its tensors (all, or those `keep` accepts).
    template <typename Keep>
    SafetensorsHeader addFile(const std::string& path, Keep keep) {
        auto file = MappedFile::open(path);
        const SafetensorsHeader h = parseSafetensorsHeader(file->data(), file->size(), path);
        const std::size_t idx = m_files.size();
        m_files.push_back(file);
        for (const auto& e : h.entries) {
            if (!keep(e.info.name)) continue;
            m_locations[e.info.name] = {idx, h.dataOffset + e.begin};
            addTensor(e.info);
        }
        return h;
    }

    void setMetadata(Metadata m) { m_metadata = std::move(m); }

    void release(const std::string& name) const override {
        const auto it = m_locations.find(name);
        if (it == m_locations.end()) return;
        m_files[it->second.file]->release(it->second.offset, find(name)->nbytes);
    }

protected:
    TensorData loadImpl(const TensorInfo& info) const override {
        const Location& loc = m_locations.at(info.name);
        const auto& f = m_files[loc.file];
        return TensorData::view(f, f->data() + loc.offset, info.nbytes);
    }

private:
    std::vector<std::shared_ptr<const MappedFile>> m_files;
    std::unordered_map<std::string, Location> m_locations;
};

nlohmann::json readJsonFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(path, "cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    if (text.empty()) throw FormatError(path, "file is empty");
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(path, std::string("invalid JSON: ") + e.what());
    }
}

}  // namespace

std::unique_ptr<TensorSource> openSafetensors(const std::string& path) {
    auto src = std::make_unique<SafetensorsSource>(path);
    const auto h = src->addFile(path, [](const std::string&) { return true; });
    src->setMetadata(h.metadata);
    return src;
}

std::unique_ptr<TensorSource> openShardedSafetensors(const std::string& indexPath) {
    const nlohmann::json index = readJsonFile(indexPath);
    if (!index.is_object()) throw FormatError(indexPath, "index is not a JSON object");
    const auto wm = index.find("weight_map");
    if (wm == index.end() || !wm->is_object() || wm->empty())
        throw FormatError(indexPath, "index has no 'weight_map' object");

    // Group tensor names by shard, keeping the order in which shards first appear.
    std::vector<std::string> shards;
    std::unordered_map<std::string, std::unordered_map<std::string, bool>> wanted;
    for (const auto& [name, shard] : wm->items()) {
        if (!shard.is_string())
            throw FormatError(indexPath, name, "weight_map value is not a file name");
        const std::string s = shard.get<std::string>();
        if (s.find('/') != std::string::npos || s == ".." || s.empty())
            throw FormatError(indexPath, name, "shard name '" + s + "' is not a plain file name");
        if (!wanted.count(s)) shards.push_back(s);
        wanted[s][name] = false;
    }

    const auto dir = std::filesystem::path(indexPath).parent_path();
    auto src = std::make_unique<SafetensorsSource>(indexPath);
    Metadata meta;
    for (const auto& shard : shards) {
        auto& names = wanted[shard];
        SafetensorsHeader h;
        try {
            h = src->addFile((dir / shard).string(), [&](const std::string& n) {
                auto it = names.find(n);
                if (it == names.end()) return false;
                it->second = true;
                return true;
            });
        } catch (const IoError& e) {
            throw FormatError(indexPath, "shard listed in weight_map is unreadable: " +
                                             std::string(e.what()));
        }
        for (const auto& [k, v] : h.metadata) meta.emplace(k, v);
        for (const auto& [n, found] : names)
            if (!found)
                throw FormatError(indexPath, n,
                                  "weight_map names shard '" + shard +
                                      "' but the shard does not contain it");
    }
    if (const auto m = index.find("metadata"); m != index.end() && m->is_object())
        for (const auto& [k, v] : m->items())
            meta.emplace(k, v.is_string() ? v.get<std::string>() : v.dump());
    src->setMetadata(std::move(meta));
    return src;
}

}  // namespace ms::core::io
