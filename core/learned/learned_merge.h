// Data-driven merging on a kit (METHODS.md, "Data-driven merging"):
//   AdaMerging  θ = θ0 + Σ_t λ_t(,k) τ_t (τ_t raw, or TIES-processed: AdaMerging++), λ initialised
//               to `init`, clamped to [0, 1], learned with Adam by minimising, per task, the mean
//               prediction entropy of its head on unlabelled images of the task — per pixel for
//               segmentation; for regression heads (no class distribution) the normalised squared
//               distance of the merged encoder's tokens to the expert's on the same images (our
//               choice) — summed over tasks.
//   CALM        pseudo-labels from each expert, class-balanced lowest-entropy sampling; a first
//               group merged by task arithmetic; then one task at a time, a mask M = σ(s) per
//               parameter learned on the pseudo-labels of every task seen so far plus a sparsity
//               pressure; the final mask [s > 0] takes the new task's vector where on and keeps the
//               running merge elsewhere (conflict-free).
// Unlabelled images come from each task's train split (the suite's realign set, labels ignored),
// not from the eval split: AdaMerging's paper adapts on the test images themselves; we keep the
// eval split unseen. Deterministic for a seed (one thread).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/eval/task_suite.h"
#include "core/merge/method_args.h"

namespace ms::core::learned {

struct LearnedArtifacts {
    std::vector<double> loss;                       // per optimisation step (CALM: all stages in order)
    std::vector<std::string> columns;               // AdaMerging: tensor names (or "all"); CALM: block names
    std::vector<std::string> rows;                  // task names, in the order of the matrix rows
    std::vector<std::vector<double>> matrix;        // AdaMerging: λ per task × column; CALM: mask density per added task × block
    std::vector<double> firstGradNorm;              // ‖∂L/∂(coefficients or logits)‖ at the first step of each stage
};

struct LearnedResult {
    model::ParamMap merged;  // encoder tensors
    LearnedArtifacts artifacts;
};

// `params`: the method's parameters (validated against its declaration; defaults fill the rest).
LearnedResult runLearnedMerge(const eval::TaskSuite& suite, const std::string& method, const merge::ParamValues& params,
                              ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);
// The algorithm `method` declares (MethodInfo::learns) with validated arguments.
LearnedResult runLearnedMerge(const eval::TaskSuite& suite, const merge::MethodInfo& method, const merge::MethodArgs& args,
                              ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);

// CALM's class-balanced entropy-minimisation sampling: for each pseudo-class, the `ratio` share
// (rounded up, at least one) of its samples with the lowest entropy; indices in ascending order.
std::vector<std::size_t> balancedLowEntropy(const std::vector<int>& pseudoLabels, const std::vector<double>& entropy,
                                            double ratio);

// CALM's conflict-free combination: where mask > 0.5 the new task vector, elsewhere the running one.
model::ParamMap combineMasked(const model::ParamMap& runningTau, const model::ParamMap& newTau, const model::ParamMap& mask);

// TIES processing of task vectors (trim to the global top `density` per task, elect signs, keep
// the entries agreeing with the elected sign): τ̂_t, the inputs AdaMerging++ weighs.
std::vector<model::ParamMap> tiesVectors(const std::vector<model::ParamMap>& tau, double density);

}  // namespace ms::core::learned
