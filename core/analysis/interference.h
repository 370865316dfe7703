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

// The spectra of the weight matrices (2-D merged tensors): per matrix the singular values of
// Σ_t τ_t (what Iso-C flattens to their mean) and the effective rank (Roy & Vetterli 2007,
// exp of the entropy of the normalised singular values) of each τ_t and of Σ_t τ_t; per block
// the mean effective ranks over its matrices. Per task and matrix the eigenvalues of its Gram matrix (float64; linalg::singularValues).
struct MatrixSpectrum {
    std::string name;
    int block = -1;
    std::int64_t rows = 0, cols = 0;
    std::vector<double> sumSingularValues;  // of Σ_t τ_t, descending
    std::vector<double> effectiveRank;      // per task
    double sumEffectiveRank = 0;
    // How far Σ τ_t is from isotropic: the largest singular value over the mean (1: flat).
    double anisotropy() const;
};
struct BlockSpectrum {
    std::string name;                    // "block 3" or "other"
    std::vector<double> effectiveRank;   // per task, mean over the block's matrices
    double sumEffectiveRank = 0, anisotropy = 0;  // means over the block's matrices
    int matrices = 0;
};
struct SpectrumReport {
    std::vector<std::string> tasks;
    std::vector<MatrixSpectrum> matrices;  // in plan order
    std::vector<BlockSpectrum> blocks;     // block 0..B−1, then "other" where it has matrices
};
SpectrumReport analyzeSpectra(const merge::MergeProblem& problem, std::vector<std::string> taskNames,
                              ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);

InterferenceReport analyzeInterference(const merge::MergeProblem& problem, std::vector<std::string> taskNames,
                                       const InterferenceOptions& options = {},
                                       ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);

}  // namespace ms::core::analysis
