#include "core/io/tensor_source.h"

#include "core/errors.h"
#include "core/io/content_hash.h"

namespace ms::core::io {

TensorData TensorData::view(std::shared_ptr<const void> owner, const std::byte* data,
                            std::size_t size) {
    TensorData t;
    t.m_owner = std::move(owner);
    t.m_data = data;
    t.m_size = size;
    t.m_isView = true;
    return t;
}

TensorData TensorData::owned(std::vector<std::byte> bytes) {
    auto holder = std::make_shared<std::vector<std::byte>>(std::move(bytes));
    TensorData t;
    t.m_data = holder->data();
    t.m_size = holder->size();
    t.m_owner = std::move(holder);
    return t;
}

const TensorInfo* TensorSource::find(std::string_view name) const {
    const auto it = m_index.find(std::string(name));
    return it == m_index.end() ? nullptr : &m_tensors[it->second];
}

void TensorSource::addTensor(TensorInfo info) {
    if (m_index.count(info.name))
        throw FormatError(m_path, info.name, "appears more than once");
    m_index.emplace(info.name, m_tensors.size());
    m_tensors.push_back(std::move(info));
}

TensorData TensorSource::load(const std::string& name) const {
    const TensorInfo* info = find(name);
    if (!info) throw FormatError(m_path, name, "no such tensor in this file");
    TensorData d = loadImpl(*info);
    if (d.size() != info->nbytes)
        throw FormatError(m_path, name,
                          "loaded " + std::to_string(d.size()) + " bytes, expected " +
                              std::to_string(info->nbytes));
    return d;
}

std::vector<float> TensorSource::loadFloat32(const std::string& name) const {
    const TensorData d = load(name);
    const TensorInfo& info = *find(name);
    std::vector<float> out(info.numel);
    toFloat32(info.dtype, d.data(), out.data(), out.size());
    return out;
}

std::string TensorSource::contentHash(ProgressSink& progress, const CancelToken* cancel) const {
    std::lock_guard<std::mutex> lock(m_hashMutex);
    if (m_hash.empty()) {
        std::vector<std::string> parts;
        for (const auto& f : files()) parts.push_back(hashFile(f, progress, cancel));
        m_hash = combineHashes(parts);
    }
    return m_hash;
}

std::uint64_t TensorSource::totalBytes() const {
    std::uint64_t n = 0;
    for (const auto& t : m_tensors) n += t.nbytes;
    return n;
}

std::uint64_t TensorSource::totalParams() const {
    std::uint64_t n = 0;
    for (const auto& t : m_tensors) n += t.numel;
    return n;
}

}  // namespace ms::core::io
