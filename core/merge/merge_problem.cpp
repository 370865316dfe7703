#include "core/merge/merge_problem.h"

#include <algorithm>

#include "core/jobs/parallel.h"

namespace ms::core::merge {

namespace {
struct Loaded {
    io::DType dtype;
    io::TensorData data;
};

// A float32 pointer to elements [begin, begin+n) of `src`: straight into the file when it holds
// aligned float32, else converted into `scratch`.
const float* floatsOf(const Loaded& src, std::uint64_t begin, std::size_t n, std::vector<float>& scratch,
                     std::optional<io::DType> compute) {
    const std::byte* p = src.data.data() + begin * io::dtypeSize(src.dtype);
    const bool round = compute && (*compute == io::DType::BF16 || *compute == io::DType::F16) && src.dtype != *compute;
    if (!round && src.dtype == io::DType::F32 && reinterpret_cast<std::uintptr_t>(p) % alignof(float) == 0)
        return reinterpret_cast<const float*>(p);
    scratch.resize(n);
    io::toFloat32(src.dtype, p, scratch.data(), n);
    if (round) {  // through the compute dtype and back
        thread_local std::vector<std::uint16_t> half;
        half.resize(n);
        io::fromFloat32(*compute, scratch.data(), half.data(), n);
        io::toFloat32(*compute, reinterpret_cast<const std::byte*>(half.data()), scratch.data(), n);
    }
    return scratch.data();
}
}  // namespace

MergeProblem::MergeProblem(const io::TensorSource& base, std::vector<const io::TensorSource*> experts,
                           TensorPlan plan)
    : m_base(&base), m_experts(std::move(experts)), m_plan(std::move(plan)) {}

void MergeProblem::forEachChunkOf(std::size_t ti, const ChunkFn& fn, const CancelToken* cancel) const {
    const PlannedTensor& t = m_plan.merged[ti];
    Loaded base{m_base->find(t.name)->dtype, m_base->load(t.name)};
    std::vector<Loaded> experts;
    for (const auto* e : m_experts) experts.push_back({e->find(t.name)->dtype, e->load(t.name)});
    const std::uint64_t rowsPerChunk = std::max<std::uint64_t>(1, kChunkElements / t.rowLength);
    const std::uint64_t chunkElems = rowsPerChunk * t.rowLength;
    const std::size_t chunks = static_cast<std::size_t>((t.numel + chunkElems - 1) / chunkElems);
    parallelFor(chunks, 2, [&](unsigned thread, std::size_t cb, std::size_t ce) {
        std::vector<float> scratchBase;
        std::vector<std::vector<float>> scratch(experts.size());
        ChunkView v;
        v.tensor = &t;
        v.experts.resize(experts.size());
        for (std::size_t c = cb; c < ce; ++c) {
            if (cancel) cancel->throwIfCancelled();
            v.begin = c * chunkElems;
            v.n = static_cast<std::size_t>(std::min<std::uint64_t>(chunkElems, t.numel - v.begin));
            v.base = floatsOf(base, v.begin, v.n, scratchBase, m_compute);
            for (std::size_t e = 0; e < experts.size(); ++e)
                v.experts[e] = floatsOf(experts[e], v.begin, v.n, scratch[e], m_compute);
            fn(thread, v);
        }
    });
}

void MergeProblem::release(std::size_t ti) const {
    m_base->release(m_plan.merged[ti].name);
    for (const auto* e : m_experts) e->release(m_plan.merged[ti].name);
}

void MergeProblem::forEachChunk(const ChunkFn& fn, ProgressSink& progress, const CancelToken* cancel,
                                const std::string& stage) const {
    std::uint64_t done = 0;
    for (std::size_t ti = 0; ti < m_plan.merged.size(); ++ti) {
        if (cancel) cancel->throwIfCancelled();
        forEachChunkOf(ti, fn, cancel);
        // A streaming pass does not come back to this tensor: drop its mapped pages (they stay
        // in the page cache), so that resident memory does not grow with the model size.
        release(ti);
        done += m_plan.merged[ti].numel;
        progress.report(stage, done, m_plan.mergedElements);
    }
}

}  // namespace ms::core::merge
