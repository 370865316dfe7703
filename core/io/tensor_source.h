// The format-independent view of a checkpoint: a list of tensors (name, dtype, shape, bytes)
// that loads one tensor on demand. Merging, inspection and hashing only ever see this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/io/dtype.h"
#include "core/jobs/progress.h"

namespace ms::core::io {

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::uint64_t numel = 0;
    std::uint64_t nbytes = 0;
};

// The contiguous row-major bytes of one tensor: either a view into a mapped file (zero copy)
// or a buffer it owns. Cheap to copy (shares ownership).
class TensorData {
public:
    TensorData() = default;
    static TensorData view(std::shared_ptr<const void> owner, const std::byte* data,
                           std::size_t size);
    static TensorData owned(std::vector<std::byte> bytes);

    const std::byte* data() const { return m_data; }
    std::size_t size() const { return m_size; }
    bool isView() const { return m_isView; }

private:
    std::shared_ptr<const void> m_owner;
    const std::byte* m_data = nullptr;
    std::size_t m_size = 0;
    bool m_isView = false;
};

using Metadata = std::map<std::string, std::string>;

class TensorSource {
public:
    virtual ~TensorSource() = default;

    const std::string& path() const { return m_path; }
    // "safetensors", "pytorch" or "hdf5".
    virtual std::string_view format() const = 0;
    // Tensors in the file's own order.
    const std::vector<TensorInfo>& tensors() const { return m_tensors; }
    const TensorInfo* find(std::string_view name) const;
    const Metadata& metadata() const { return m_metadata; }

    // Loads one tensor; thread-safe. Throws FormatError naming the file and tensor when its
    // bytes are unreadable.
    TensorData load(const std::string& name) const;
    // Drops this process's mapped pages of the tensor (they stay in the page cache), so a
    // streaming pass over a large checkpoint keeps resident memory flat. Views already handed
    // out stay valid (pages are faulted back in on access).
    virtual void release(const std::string& name) const { (void)name; }
    // Convenience for tests and small tensors: the tensor converted to float32.
    std::vector<float> loadFloat32(const std::string& name) const;

    // The files the checkpoint consists of (one, or the shards of a sharded checkpoint).
    virtual std::vector<std::string> files() const { return {m_path}; }
    // XXH3-128 over the file bytes (combined over shards); computed once, then cached.
    std::string contentHash(ProgressSink& progress = nullProgress(),
                            const CancelToken* cancel = nullptr) const;

    std::uint64_t totalBytes() const;
    std::uint64_t totalParams() const;

protected:
    explicit TensorSource(std::string path) : m_path(std::move(path)) {}
    // Registers a tensor; throws FormatError on a duplicate name.
    void addTensor(TensorInfo info);
    virtual TensorData loadImpl(const TensorInfo& info) const = 0;

    std::string m_path;
    std::vector<TensorInfo> m_tensors;
    std::unordered_map<std::string, std::size_t> m_index;
    Metadata m_metadata;

private:
    mutable std::mutex m_hashMutex;
    mutable std::string m_hash;
};

}  // namespace ms::core::io
