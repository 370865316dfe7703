#include "core/io/safetensors_header.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/errors.h"

namespace ms::core::io {

namespace {
using nlohmann::json;

std::uint64_t readLe64(const std::byte* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
    return v;
}

SafetensorsEntry parseEntry(const std::string& name, const json& v, std::uint64_t dataSize,
                            const std::string& path) {
    if (!v.is_object()) throw FormatError(path, name, "header entry is not a JSON object");
    const auto dt = v.find("dtype");
    const auto sh = v.find("shape");
    const auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string())
        throw FormatError(path, name, "header entry has no string 'dtype'");
    if (sh == v.end() || !sh->is_array())
        throw FormatError(path, name, "header entry has no array 'shape'");
    if (off == v.end() || !off->is_array() || off->size() != 2)
        throw FormatError(path, name, "header entry has no 'data_offsets' pair");
    SafetensorsEntry e;
    e.info.name = name;
    const auto dtype = parseDType(dt->get_ref<const std::string&>());
    if (!dtype)
        throw FormatError(path, name,
                          "unknown dtype '" + dt->get<std::string>() +
                              "' (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");
    e.info.dtype = *dtype;
    for (const auto& d : *sh) {
        if (!d.is_number_unsigned())
            throw FormatError(path, name, "shape entries must be non-negative integers");
        const auto dim = d.get<std::uint64_t>();
        if (dim > static_cast<std::uint64_t>(INT64_MAX))
            throw FormatError(path, name, "shape dimension is too large");
        e.info.shape.push_back(static_cast<std::int64_t>(dim));
    }
    for (const auto& o : *off)
        if (!o.is_number_unsigned())
            throw FormatError(path, name, "data_offsets must be non-negative integers");
    e.begin = (*off)[0].get<std::uint64_t>();
    e.end = (*off)[1].get<std::uint64_t>();
    const auto numel = checkedNumel(e.info.shape.data(), e.info.shape.size());
    const std::uint64_t elem = dtypeSize(e.info.dtype);
    if (!numel || *numel > UINT64_MAX / elem)
        throw FormatError(path, name, "shape overflows the addressable size");
    e.info.numel = *numel;
    e.info.nbytes = *numel * elem;
    if (e.end < e.begin)
        throw FormatError(path, name, "data_offsets end before they begin");
    if (e.end - e.begin != e.info.nbytes)
        throw FormatError(path, name,
                          "data_offsets span " + std::to_string(e.end - e.begin) +
                              " bytes but dtype and shape need " + std::to_string(e.info.nbytes));
    if (e.end > dataSize)
        throw FormatError(path, name,
                          "data_offsets end at " + std::to_string(e.end) +
                              ", beyond the data section of " + std::to_string(dataSize) +
                              " bytes (truncated file?)");
    return e;
}
}  // namespace

SafetensorsHeader parseSafetensorsHeader(const std::byte* bytes, std::uint64_t fileSize,
                                         const std::string& path) {
    if (fileSize == 0) throw FormatError(path, "file is empty");
    if (fileSize < 8)
        throw FormatError(path, "file is too short to be safetensors (" +
                                    std::to_string(fileSize) + " bytes)");
    const std::uint64_t n = readLe64(bytes);
    if (n > kMaxSafetensorsHeader)
        throw FormatError(path, "header length " + std::to_string(n) +
                                    " exceeds the 100 MB limit of the format (corrupt file?)");
    if (n > fileSize - 8)
        throw FormatError(path, "header length " + std::to_string(n) + " exceeds the file size " +
                                    std::to_string(fileSize) + " (truncated file?)");
    const char* text = reinterpret_cast<const char*>(bytes + 8);
    if (n < 2 || text[0] != '{') throw FormatError(path, "header is not a JSON object");

    json root;
    std::string duplicate;  // JSON itself allows repeated keys (the last wins); the format does not
    try {
        std::vector<std::vector<std::string>> keys;  // the keys seen, per open object
        const json::parser_callback_t onEvent = [&](int, json::parse_event_t event, json& parsed) {
            if (event == json::parse_event_t::object_start) keys.emplace_back();
            else if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
            else if (event == json::parse_event_t::key && !keys.empty() && duplicate.empty()) {
                const std::string& k = parsed.get_ref<const std::string&>();
                if (std::find(keys.back().begin(), keys.back().end(), k) != keys.back().end()) duplicate = k;
                else keys.back().push_back(k);
            }
            return true;
        };
        root = json::parse(text, text + n, onEvent);
    } catch (const json::exception& e) {
        throw FormatError(path, std::string("invalid JSON header: ") + e.what());
    }
    if (!root.is_object()) throw FormatError(path, "header is not a JSON object");
    if (!duplicate.empty())
        throw FormatError(path, duplicate, "the header names it twice (a safetensors header lists each name once)");

    SafetensorsHeader h;
    h.dataOffset = 8 + n;
    const std::uint64_t dataSize = fileSize - h.dataOffset;
    for (const auto& [key, value] : root.items()) {
        if (key == "__metadata__") {
            if (!value.is_object()) throw FormatError(path, "__metadata__ is not a JSON object");
            for (const auto& [mk, mv] : value.items()) {
                if (!mv.is_string())
                    throw FormatError(path, "__metadata__ value '" + mk + "' is a JSON " + mv.type_name() +
                                                ", not a string (the format allows only string values)");
                h.metadata[mk] = mv.get<std::string>();
            }
            continue;
        }
        h.entries.push_back(parseEntry(key, value, dataSize, path));
    }
    std::stable_sort(h.entries.begin(), h.entries.end(),
                     [](const auto& a, const auto& b) { return a.begin < b.begin; });
    const SafetensorsEntry* prev = nullptr;
    for (const auto& e : h.entries) {
        if (e.begin == e.end) continue;  // empty tensors occupy no bytes
        if (prev && e.begin < prev->end)
            throw FormatError(path, e.info.name,
                              "data_offsets overlap those of '" + prev->info.name + "'");
        prev = &e;
    }
    return h;
}

std::string serializeSafetensorsHeader(const std::vector<SafetensorsEntry>& entries,
                                       const Metadata& metadata) {
    nlohmann::ordered_json root = nlohmann::ordered_json::object();
    if (!metadata.empty()) {
        nlohmann::ordered_json m = nlohmann::ordered_json::object();
        for (const auto& [k, v] : metadata) m[k] = v;
        root["__metadata__"] = std::move(m);
    }
    for (const auto& e : entries) {
        root[e.info.name] = {{"dtype", std::string(dtypeName(e.info.dtype))},
                             {"shape", e.info.shape},
                             {"data_offsets", {e.begin, e.end}}};
    }
    std::string text = root.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // data section starts 8-byte aligned
    std::string out(8, '\0');
    std::uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    return out + text;
}

}  // namespace ms::core::io
