// The inputs of a merge, opened and planned: base, experts, tensor plan. Methods read task
// vectors from it chunk by chunk as float32 (zero-copy where the file holds aligned float32).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/io/tensor_source.h"
#include "core/jobs/progress.h"
#include "core/merge/tensor_plan.h"

namespace ms::core::merge {
class KitContext;
}

namespace ms::core::merge {

// One chunk of one merged tensor: elements [begin, begin + n), whole rows only.
struct ChunkView {
    const PlannedTensor* tensor = nullptr;
    std::uint64_t begin = 0;
    std::size_t n = 0;
    const float* base = nullptr;
    std::vector<const float*> experts;  // θ_t, not τ_t
};

class MergeProblem {
public:
    MergeProblem(const io::TensorSource& base, std::vector<const io::TensorSource*> experts,
                 TensorPlan plan);

    const io::TensorSource& base() const { return *m_base; }
    const std::vector<const io::TensorSource*>& experts() const { return m_experts; }
    std::size_t taskCount() const { return m_experts.size(); }
    const TensorPlan& plan() const { return m_plan; }
    // The kit a method that learns from data (MethodInfo::needsKit) uses; null for weights alone.
    const KitContext* kit() const { return m_kit; }
    void setKit(const KitContext* kit) { m_kit = kit; }
    // mergekit's compute dtype (a recipe's `dtype`): every input value rounded to it (bf16/f16,
    // round to nearest even) before the method sees it. None: the files' values as they are.
    void setComputeDtype(std::optional<io::DType> t) { m_compute = t; }
    // Index in plan().merged of the tensor a chunk belongs to.
    std::size_t indexOf(const ChunkView& c) const { return static_cast<std::size_t>(c.tensor - m_plan.merged.data()); }

    // Streams over every merged tensor (or only `tensor` when >= 0) in chunks of whole rows,
    // using all worker threads. fn(thread, chunk) must be thread-safe per thread index.
    using ChunkFn = std::function<void(unsigned thread, const ChunkView&)>;
    void forEachChunk(const ChunkFn& fn, ProgressSink& progress = nullProgress(),
                      const CancelToken* cancel = nullptr, const std::string& stage = "reading") const;
    void forEachChunkOf(std::size_t tensor, const ChunkFn& fn, const CancelToken* cancel = nullptr) const;
    // Drops the inputs' mapped pages of one tensor (they stay in the page cache): a pass that is
    // done with a tensor calls it so that resident memory does not grow with the model.
    void release(std::size_t tensor) const;

    // Elements per chunk (rounded to whole rows).
    static constexpr std::size_t kChunkElements = 1 << 16;

private:
    const io::TensorSource* m_base;
    std::vector<const io::TensorSource*> m_experts;
    TensorPlan m_plan;
    const KitContext* m_kit = nullptr;
    std::optional<io::DType> m_compute;
};

}  // namespace ms::core::merge
