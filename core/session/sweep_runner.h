// Runs a sweep on a kit: for each point, merge (prepare once per λ-independent configuration,
// apply per point), score with the proxy variants and, where asked, downstream (PointScorer);
// record the point and commit it (to the experiment file, through its one writer) before the
// next one starts. Synchronous: callers put it on a worker thread (jobs/background_job.h).
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
#include "core/merge/merge_spec.h"
#include "core/sweep/sweep_options.h"
#include "core/sweep/sweep_spec.h"

namespace ms::core::session {

using sweep::SweepOptions;  // the one options type (core/sweep/sweep_options.h)

// What a running sweep tells its caller, as one typed stream (the CLI's lines and bar, the
// workbench's queue and views all read it; no text is parsed back).
struct SweepEvent {
    enum class Kind {
        Started,         // the record is open: `experiment` as it stands (read under the lock), `sweep`
        Progress,        // `progress` (stage, done, total, ETA), at each point's stages, at most ~10 Hz inside one
        PointCommitted,  // `sweep`'s newest point is on disk (or handed to the commit callback)
        Finished,        // complete (or cancelled: `sweep`'s status says which)
        Failed,          // `message` says why; nothing after it
    };
    Kind kind = Kind::Progress;
    sweep::SweepProgress progress;
    const store::Experiment* experiment = nullptr;  // Started; valid during the call only
    const store::SweepRecord* sweep = nullptr;      // Started, PointCommitted, Finished; valid during the call only
    std::string message;
};
using SweepEventFn = std::function<void(const SweepEvent&)>;

// Called after every completed point (pointAdded: it is sweep.points.back()) and after a change of
// status alone (cancelled; complete with nothing left to do), with the experiment as it stands.
using CommitFn = std::function<void(const store::Experiment&, const store::SweepRecord&, bool pointAdded)>;

// One sweep on a loaded kit: plan → open (or resume) the record → score each point → commit it.
// The CLI, the workbench and the tests all run sweeps through this class. It sets its own thread
// settings (one LibTorch intra-op thread on the calling thread, measured fastest next to
// OpenBLAS's pool: docs/perf.md).
class SweepRun {
public:
    // Plans the sweep (once; kept) and checks it against the kit and the method — every point's
    // settings validated before any work. InvalidArgument for what does not fit. Nothing is
    // opened or written yet.
    SweepRun(const eval::TaskSuite& suite, SweepOptions options);
    ~SweepRun();
    SweepRun(const SweepRun&) = delete;
    SweepRun& operator=(const SweepRun&) = delete;

    const sweep::SweepPlan& plan() const;
    const merge::MergeSpec& settings() const;  // the fixed settings, bound to the kit, canonical

    // Runs into the experiment file `path`, its one writer: takes its WriterLock (LockedError,
    // exit 2, naming the holder; kept when this process holds it already) before reading it
    // (else starting from `fresh`), then commits every point through an ExperimentSaver (appends;
    // rewrites when the sweep starts and ends). Returns the sweep's id. Cancellation: the sweep is
    // marked cancelled, committed, and Cancelled is rethrown; any error after Started is also
    // reported as a Failed event.
    std::string runInto(const std::string& path, const store::Experiment& fresh, const SweepEventFn& onEvent,
                        const CancelToken* cancel = nullptr);
    // The same into an experiment in memory, each commit handed to `commit` (the caller saves).
    std::string run(store::Experiment& experiment, const CommitFn& commit, const SweepEventFn& onEvent,
                    const CancelToken* cancel = nullptr);

private:
    struct Impl;
    std::unique_ptr<Impl> m;
    store::SweepRecord& openRecord(store::Experiment& experiment) const;
    std::vector<std::size_t> pointsToDo(const store::SweepRecord& record) const;
    void scoreAll(store::Experiment& experiment, const std::string& id, const CommitFn& commit, const SweepEventFn& onEvent,
                  const CancelToken* cancel);
};

// SweepRun(suite, options).run(...), with progress as a ProgressSink (tests, benchmarks).
std::string runSweep(const eval::TaskSuite& suite, const SweepOptions& options, store::Experiment& experiment,
                     const CommitFn& commit, ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);

// The data settings a sweep ran with (its record's scoring.data), to load the same suite again (a
// learned point re-made from an experiment learns on the same images), and back.
eval::SuiteOptions suiteOptionsOf(const sweep::DataOptions& data);
sweep::DataOptions dataOptionsOf(const eval::SuiteOptions& suite);

}  // namespace ms::core::session
