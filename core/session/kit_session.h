// What the workbench needs from a kit, behind plain C++ types: no LibTorch header reaches the
// caller (Qt translation units cannot include torch headers: Qt's `signals`/`slots` macros break
// them). A session holds the loaded kit — encoders, heads, data, targets — read-only, so several
// jobs may use it at once from different threads; each job builds its own merge engine.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/jobs/progress.h"
#include "core/merge/merge_spec.h"
#include "core/store/experiment.h"
#include "core/sweep/sweep_options.h"
#include "core/sweep/sweep_progress.h"
#include "core/sweep/sweep_spec.h"

namespace ms::core::session {

struct SessionOptions {
    int probeSize = 128;        // probe images per data set (sweeps)
    int liveProbeSize = 32;     // probe images per data set for the interactive slider
    // The slider's first estimate: from as many of those images as fit in this many seconds
    // (merge included; at least 2 per set), shown with its standard error, then refined to all
    // of them unless a newer value arrives. 0: no estimate, the full score only.
    double liveEstimateSeconds = 1.0;
    bool densePreview = true;   // the slider also shows each dense task's prediction on one eval image
    int realignSamples = 1000;  // labelled images per task for re-alignment
    int evalLimit = 0;          // eval images per task (0: the whole test split)
    std::uint64_t seed = 0;
    std::string featureCache;   // "" : no disk cache
};

struct TaskInfo {
    std::string name, type, dataset, metric;
    bool higherIsBetter = true;
    double expertScore = 0;
    std::string expertFile, expertHash;
    std::string head;  // "classifier (10 classes, mean pooling)", ...
};

// One dense task's prediction on its first eval image with the merged encoder and the task's own
// head, beside the truth: classes (segmentation; truth -1 unlabelled) or values, channels
// interleaved (normals: 3, unit length); NaN truth where invalid. What the live panel draws.
struct DensePreview {
    std::string task, type;  // type: segmentation, regression, depth, normals
    int taskIndex = 0;       // in the kit's task order
    int width = 0, height = 0, channels = 1, classes = 0;
    std::vector<float> prediction, truth;  // height × width × channels
};

struct LiveResult {
    std::vector<double> perTask;  // normalised task alignment Â_t
    double mean = 0, min = 0;
    double mergeSeconds = 0, proxySeconds = 0;
    // An estimate from the first `images` of `imagesTotal` probe images per data set (the largest
    // set's counts): perTaskError is each Â_t's standard error (NaN from a single image), and
    // meanError bounds the mean's (the tasks' errors added, as if fully correlated: tasks may
    // share probe images). The full score has estimate false and errors 0.
    bool estimate = false;
    int images = 0, imagesTotal = 0;
    std::vector<double> perTaskError;
    double meanError = 0;
    double estimateSeconds = 0;  // the full score: when its estimate came (0: none was made)
    std::vector<DensePreview> dense;  // SessionOptions::densePreview: every dense task with a head and an eval set
    double previewSeconds = 0;
};

// What the workbench queues: the one sweep options type. The session fills in the seed, the
// feature cache and the data it drew.
using SweepJob = sweep::SweepOptions;

// A running sweep's events (session::SweepEvent, core/session/sweep_runner.h), as plain values
// the workbench can keep: the experiment once when the sweep starts, then each committed point.
struct SweepUpdate {
    enum class Kind { Started, Progress, PointCommitted, Finished };
    Kind kind = Kind::Progress;
    sweep::SweepProgress progress;
    std::shared_ptr<const store::Experiment> experiment;  // Started: the experiment as read under the lock
    store::PointRecord point;                            // PointCommitted
    store::SweepStatus status = store::SweepStatus::Running;
    int plannedPoints = 0;
};
using SweepUpdateFn = std::function<void(const SweepUpdate&)>;

class KitSession {
public:
    // Loads and verifies the kit (FormatError names a missing or corrupt file).
    static std::unique_ptr<KitSession> open(const std::string& kitDir, const SessionOptions& options,
                                            ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);
    ~KitSession();
    KitSession(const KitSession&) = delete;
    KitSession& operator=(const KitSession&) = delete;

    const std::string& kitDir() const;
    std::string architecture() const;  // "ViT 28×28, patch 7, width 64, depth 4, 4 heads (0.2 M parameters)"
    std::string baseFile() const;
    std::string baseHash() const;
    std::vector<TaskInfo> tasks() const;
    std::vector<std::string> taskNames() const;

    // `settings` with base and models set to the kit's files and hashes (models named by task
    // keep their values; none: every task at its defaults). InvalidArgument when they do not fit.
    merge::MergeSpec bind(const merge::MergeSpec& settings) const;

    // The interactive path: merges (prepare cached between calls with the same λ-independent
    // settings) and scores the default proxy on the small live probe sets. One caller at a time.
    // Methods that learn from data (needsKit) are refused: they are swept, not previewed.
    // `onEstimate` (from the calling thread, before the refinement) hears the first estimate when
    // SessionOptions::liveEstimateSeconds leaves images for a refinement; cancelling after it
    // stops the refinement (the estimate stands).
    LiveResult live(const merge::MergeSpec& settings, const CancelToken* cancel = nullptr,
                    const std::function<void(const LiveResult&)>& onEstimate = {});

    // Runs a sweep into the experiment file `path` as its one writer (session::SweepRun::runInto:
    // the lock, the file read under it, else `fresh`, every point committed before the next);
    // re-entrant. LockedError (naming the holder) when another writer holds the file.
    std::string runSweep(const SweepJob& job, const std::string& path, const store::Experiment& fresh, const SweepUpdateFn& onUpdate,
                         const CancelToken* cancel = nullptr) const;

    // Writes the merged encoder of `settings` (bound to the kit) through merge::writeMerged — the
    // function `mergescope-cli merge` uses — and returns the files written. `task`: per-task
    // methods, one task's model ("" = one file per task). Learned methods learn on the kit's
    // data; `learnedOn` (a sweep record's scoring.data) makes them learn on the images that sweep
    // used when those differ from this session's. `metadata` is added to the provenance.
    std::vector<std::string> saveMerged(const merge::MergeSpec& settings, const std::string& path, const std::string& task = "",
                                        ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr,
                                        const sweep::DataOptions* learnedOn = nullptr,
                                        const std::map<std::string, std::string>& metadata = {}) const;

private:
    struct Impl;
    explicit KitSession(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// The first start: builds the demo kit into `dir` (a valid cached one is reused); returns its folder.
std::string buildDemoKit(const std::string& dir, std::uint64_t seed, ProgressSink& progress, const CancelToken* cancel);

}  // namespace ms::core::session
