// Magnitude thresholds for "keep the top-k fraction of each task vector", exactly as the
// official TIES code computes them: with d entries, the threshold is the (d − ⌊k·d⌋)-th smallest
// |τ_t| (counting from 1) and every entry >= it is kept. Global scope (default) selects over the
// whole flattened task vector without concatenating it: two histogram passes over the float32
// bit patterns of |τ| (radix selection, 16 + 16 bits), streamed from the inputs.
#pragma once

#include <cstdint>
#include <vector>

#include "core/jobs/progress.h"
#include "core/merge/merge_problem.h"

namespace ms::core::merge {

enum class TopKScope { Global, PerTensor };

class TopKThresholds {
public:
    // Keep |τ| >= threshold(task, tensor); keepAll(task) when density >= 1.
    float threshold(std::size_t task, std::size_t tensor) const {
        return m_perTensor ? m_values[task][tensor] : m_values[task][0];
    }
    bool keepAll(std::size_t task) const { return m_keepAll[task]; }
    bool perTensor() const { return m_perTensor; }

    friend TopKThresholds selectTopK(const MergeProblem&, const std::vector<double>&, TopKScope,
                                     ProgressSink&, const CancelToken*);

private:
    bool m_perTensor = false;
    std::vector<std::vector<float>> m_values;  // [task][tensor or 0]
    std::vector<bool> m_keepAll;
};

// density[t] in (0, 1] per task.
TopKThresholds selectTopK(const MergeProblem& problem, const std::vector<double>& density,
                          TopKScope scope, ProgressSink& progress = nullProgress(),
                          const CancelToken* cancel = nullptr);

// The rank (1-based) of the threshold among d sorted magnitudes: d − ⌊density·d⌋, or 0 for
// "keep all" (density >= 1).
std::uint64_t thresholdRank(std::uint64_t d, double density);

}  // namespace ms::core::merge
