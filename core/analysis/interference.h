// Task interference between fine-tuned experts, measured on their task vectors τ_t = θ_t − θ0:
//   - cosine similarity of every pair of task vectors (whole model, per block, per tensor);
//   - task-vector norms (whole model, per block);
//   - sign-conflict rate: the share of coordinates where two or more tasks change the weight in
//     opposite directions (some τ_t > 0 and some τ_s < 0) — what TIES' sign election resolves;
//   - overlap (Jaccard index) between tasks of their TIES top-k masks and of their TALL masks.
// Streams the inputs: two passes for the TIES thresholds, one for everything else.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/jobs/progress.h"
#include "core/merge/merge_problem.h"

namespace ms::core::analysis {

struct InterferenceOptions {
    double tiesDensity = 0.2;  // the TIES k of the masks compared
    double tallLambda = 0.4;   // the TALL λ_t of the masks compared
};

// Statistics of a group of coordinates (the whole model, one block, or one tensor).
struct GroupStats {
    std::string name;             // "all", "block 3", "other" (outside blocks), or a tensor name
    std::uint64_t elements = 0;
    std::vector<double> norms;    // ‖τ_t‖, per task
    std::vector<double> cosine;   // T×T, row-major; 1 on the diagonal (0 for a zero vector)
    double signConflictRate = 0;  // share of the group's coordinates with opposite-signed τ
    double meanPairwiseCosine() const;
};

struct InterferenceReport {
    std::vector<std::string> tasks;
    GroupStats all;
    std::vector<GroupStats> blocks;   // block 0..B−1, then "other"
    std::vector<GroupStats> tensors;  // in plan order
    std::vector<double> tiesOverlap;  // T×T Jaccard of the top-k masks
    std::vector<double> tallOverlap;  // T×T Jaccard of the TALL masks
    InterferenceOptions options;
};

InterferenceReport analyzeInterference(const merge::MergeProblem& problem, std::vector<std::string> taskNames,
                                       const InterferenceOptions& options = {},
                                       ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);

}  // namespace ms::core::analysis
