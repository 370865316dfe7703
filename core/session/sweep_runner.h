// Runs a sweep on a kit: for each point, merge (prepare once per λ-independent configuration,
// apply per point), score with the proxy variants and, where asked, downstream; record the point
// in the experiment and hand it to `commit` (which saves the file) before the next one starts.
// Synchronous and re-entrant: callers put it on a worker thread (jobs/background_job.h).
// Cancellation is checked inside a point (between forward batches and training steps); the sweep
// is then marked "cancelled", committed, and Cancelled is rethrown.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/eval/downstream.h"
#include "core/eval/task_suite.h"
#include "core/store/experiment.h"
#include "core/sweep/sweep_progress.h"
#include "core/sweep/sweep_spec.h"

namespace ms::core::session {

struct SweepOptions {
    sweep::SweepSpec spec;
    std::vector<std::string> proxies = {"task-alignment"};  // variants; empty: no proxy
    eval::DownstreamOptions downstream;                     // mode None: no downstream
    std::string featureCache;                               // "" : no disk cache for expert features
    bool resume = false;  // continue the newest sweep of the file with the same spec, options and shard
    sweep::Shard shard;          // compute only this shard's points (the record keeps them and its "I/N")
    sweep::SweepProgressFn onProgress;  // optional: at each point's start and stage
};

// Called after every completed point (pointAdded: it is sweep.points.back()) and after a change of
// status alone (cancelled; complete with nothing left to do), with the experiment as it stands.
using CommitFn = std::function<void(const store::Experiment&, const store::SweepRecord&, bool pointAdded)>;

// Returns the sweep's id. Throws InvalidArgument for a spec that does not fit the kit or the
// method, or when the experiment belongs to another kit. The CLI and the workbench both run
// sweeps through this function; it sets its own thread settings (one LibTorch intra-op thread
// on the calling thread, measured fastest next to OpenBLAS's pool: docs/perf.md).
std::string runSweep(const eval::TaskSuite& suite, const SweepOptions& options, store::Experiment& experiment,
                     const CommitFn& commit, ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);

// The options as stored with the sweep (JSON): proxies, downstream and suite settings.
std::string sweepOptionsJson(const eval::TaskSuite& suite, const SweepOptions& options);

// The data settings a sweep ran with (its options JSON), to load the same suite again (a learned
// point re-made from an experiment learns on the same images).
eval::SuiteOptions suiteOptionsOf(const store::SweepRecord& record);

}  // namespace ms::core::session
