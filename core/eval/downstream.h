// Downstream scores of a merged encoder on every task of a suite (SIMO, METHODS.md):
//   frozen        each expert's own head on the merged encoder, scored on the eval split;
//   head-realign  the merged encoder frozen, its features on the small labelled split computed
//                 once; each head, initialised from the expert's, fine-tuned on them (Adam);
//   repr-realign  a low-rank adapter beside every block (x ← block(x) + B·A·x, B = 0 at start)
//                 trained jointly with the heads on the mean of the task losses.
// Normalized performance per task is merged / expert on the task's primary metric (inverted for
// lower-is-better metrics); its aggregate the mean over tasks. ΔMTL as LibMTL defines it: per
// task Δ_t, the mean over every metric of its type of ±(M − B)/B, B the expert's score and the
// sign + where higher is better; ΔMTL the mean of Δ_t over the tasks scored (a fraction: ×100 %).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/eval/task_suite.h"
#include "core/sweep/sweep_options.h"

namespace ms::core::eval {

// The modes and their settings are a sweep's options (torch-free, core/sweep/sweep_options.h).
using sweep::DownstreamMode;
using sweep::DownstreamOptions;
using sweep::downstreamModeName;
using sweep::parseDownstreamMode;

struct DownstreamScores {
    std::vector<double> metric;      // per task, its primary metric; NaN: not available (see canScore)
    std::vector<double> normalized;  // per task; NaN: not available
    std::vector<std::vector<std::pair<kit::Metric, double>>> metrics;  // per task, every metric of its type (empty: not scored)
    std::vector<double> delta;       // per task, Δ_t; NaN: not available
    double mean() const;             // mean normalized performance over the tasks scored; NaN if none
    double deltaMtl() const;         // mean Δ_t over the tasks scored; NaN if none
};

// Δ_t of one task: the mean over its metrics of ±(M − B)/B against the expert's scores `expert`
// (metrics whose baseline is missing or 0 are left out; NaN when none is left).
double relativeDelta(const std::vector<std::pair<kit::Metric, double>>& merged,
                     const std::vector<std::pair<kit::Metric, double>>& expert);

// Whether a task has what the mode needs: an eval set, and a head (frozen) or re-alignment data
// (head-realign, repr-realign: a task without a head trains the project's head for its kind).
bool canScore(const SuiteTask& task, DownstreamMode mode);
// What keeps the mode from scoring tasks that have an eval set (one line per task, naming it and
// its files): re-alignment on a task whose images have no labels (or dense targets). Tasks
// without an eval set are proxy-only and no problem; frozen tasks without a head are "not
// available" (SIMO), no problem either.
std::vector<std::string> downstreamProblems(const TaskSuite& suite, DownstreamMode mode);

// One merged encoder for every task, or (per-task methods) one per task: `perTask` non-empty
// overrides `encoder` (repr-realign needs a single encoder).
DownstreamScores evaluateDownstream(const TaskSuite& suite, const model::ParamMap& encoder,
                                    const DownstreamOptions& options, const CancelToken* cancel = nullptr,
                                    const std::vector<const model::ParamMap*>& perTask = {});

// Trains a copy of `head` on fixed encoder tokens [N, T, D] with their targets (Adam, minibatches
// drawn by `seed`); returns the trained head. Exposed for tests.
model::ParamMap realignHead(const kit::Task& task, const model::HeadConfig& config, const model::ParamMap& head,
                            const at::Tensor& tokens, const at::Tensor& targets, int steps, int batch, double lr,
                            std::uint64_t seed, const CancelToken* cancel = nullptr, int height = 0, int width = 0);

}  // namespace ms::core::eval
