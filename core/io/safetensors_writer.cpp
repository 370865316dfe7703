// safetensors writer: header first, then each tensor's bytes filled in place through a shared
// mapping of the (pre-allocated) temporary file; optional Hugging Face style sharding.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/io/atomic_file.h"
#include "core/io/checkpoint_writer.h"
#include "core/io/safetensors_header.h"

namespace ms::core::io {

namespace {

struct Planned {
    std::size_t index;  // into the caller's tensor list
    SafetensorsEntry entry;
};

std::vector<Planned> planEntries(const std::vector<TensorToWrite>& tensors) {
    std::vector<Planned> plan;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const auto& t = tensors[i];
        if (t.name.empty() || t.name == "__metadata__")
            throw InvalidArgument("invalid tensor name '" + t.name + "'");
        const auto numel = checkedNumel(t.shape.data(), t.shape.size());
        if (!numel) throw InvalidArgument("tensor '" + t.name + "' has an invalid shape");
        Planned p{i, {}};
        p.entry.info = {t.name, t.dtype, t.shape, *numel, *numel * dtypeSize(t.dtype)};
        plan.push_back(std::move(p));
    }
    // Larger elements first keeps every tensor aligned to its element size (as the reference
    // implementation does); ties by name for a deterministic layout.
    std::sort(plan.begin(), plan.end(), [](const Planned& a, const Planned& b) {
        const auto sa = dtypeSize(a.entry.info.dtype), sb = dtypeSize(b.entry.info.dtype);
        return sa != sb ? sa > sb : a.entry.info.name < b.entry.info.name;
    });
    for (std::size_t i = 1; i < plan.size(); ++i)
        if (plan[i].entry.info.name == plan[i - 1].entry.info.name)
            throw InvalidArgument("tensor '" + plan[i].entry.info.name + "' is listed twice");
    return plan;
}

// Once a tensor is written, its pages need not stay mapped in this process: for a shared file
// mapping, MADV_DONTNEED keeps the written data in the page cache (later accesses see it), so
// resident memory stays flat however large the output. Only whole pages inside the range.
void dropFilledPages(std::byte* map, std::uint64_t offset, std::uint64_t len) {
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    const std::uint64_t begin = (offset + page - 1) / page * page;
    const std::uint64_t end = (offset + len) / page * page;
    if (end > begin) ::madvise(map + begin, end - begin, MADV_DONTNEED);
}

// Writes one safetensors file holding `part` into an AtomicFile (not yet committed).
AtomicFile writeOne(const std::string& path, std::vector<Planned> part, const Metadata& meta,
                    const TensorFiller& fill, ProgressSink& progress, const CancelToken* cancel,
                    std::uint64_t& done, std::uint64_t total) {
    std::uint64_t offset = 0;
    for (auto& p : part) {
        p.entry.begin = offset;
        offset += p.entry.info.nbytes;
        p.entry.end = offset;
    }
    std::vector<SafetensorsEntry> entries;
    for (const auto& p : part) entries.push_back(p.entry);
    const std::string header = serializeSafetensorsHeader(entries, meta);
    const std::uint64_t size = header.size() + offset;

    AtomicFile out(path);
    out.reserve(size);
    void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, out.fd(), 0);
    if (map == MAP_FAILED)
        throw OutputError(path, std::string("cannot map the output: ") + std::strerror(errno));
    struct Unmap {
        void* p;
        std::uint64_t n;
        ~Unmap() { ::munmap(p, n); }
    } unmap{map, size};
    auto* base = static_cast<std::byte*>(map);
    std::memcpy(base, header.data(), header.size());
    std::byte* data = base + header.size();
    for (const auto& p : part) {
        if (cancel) cancel->throwIfCancelled();
        fill(p.index, data + p.entry.begin);
        dropFilledPages(base, header.size() + p.entry.begin, p.entry.info.nbytes);
        done += p.entry.info.nbytes;
        progress.report("writing", done, total);
    }
    return out;
}

std::string shardName(const std::string& stem, std::size_t i, std::size_t n) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu.safetensors", i + 1, n);
    return stem + buf;
}

}  // namespace

std::vector<std::string> writeSafetensors(const std::string& path,
                                          const std::vector<TensorToWrite>& tensors,
                                          const TensorFiller& fill, const WriteOptions& options,
                                          ProgressSink& progress, const CancelToken* cancel) {
    const auto plan = planEntries(tensors);
    Metadata meta = options.metadata;
    meta.emplace("format", "pt");  // Hugging Face loaders require it
    std::uint64_t total = 0;
    for (const auto& p : plan) total += p.entry.info.nbytes;

    // Split into shards greedily, in layout order.
    std::vector<std::vector<Planned>> parts(1);
    std::uint64_t partBytes = 0;
    for (const auto& p : plan) {
        if (options.maxShardBytes > 0 && partBytes > 0 &&
            partBytes + p.entry.info.nbytes > options.maxShardBytes) {
            parts.emplace_back();
            partBytes = 0;
        }
        parts.back().push_back(p);
        partBytes += p.entry.info.nbytes;
    }

    std::uint64_t done = 0;
    if (parts.size() == 1) {
        AtomicFile f = writeOne(path, parts[0], meta, fill, progress, cancel, done, total);
        f.commit();
        return {path};
    }

    std::string stem = path;
    if (stem.size() > 12 && stem.ends_with(".safetensors")) stem.resize(stem.size() - 12);
    std::vector<AtomicFile> files;
    nlohmann::ordered_json weightMap = nlohmann::ordered_json::object();
    std::vector<std::string> written;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const std::string shard = shardName(stem, i, parts.size());
        const std::string base = std::filesystem::path(shard).filename().string();
        for (const auto& p : parts[i]) weightMap[p.entry.info.name] = base;
        files.push_back(writeOne(shard, parts[i], meta, fill, progress, cancel, done, total));
        written.push_back(shard);
    }
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", total}};
    for (const auto& [k, v] : options.metadata) index["metadata"][k] = v;
    index["weight_map"] = std::move(weightMap);
    const std::string indexPath = path + ".index.json";
    AtomicFile idx(indexPath);
    const std::string text = index.dump(2) + "\n";
    idx.writeAll(text.data(), text.size());
    // All shards are complete on disk before any is renamed; the index goes last, so a reader
    // never finds an index pointing at missing shards.
    for (auto& f : files) f.commit();
    idx.commit();
    written.push_back(indexPath);
    return written;
}

}  // namespace ms::core::io
