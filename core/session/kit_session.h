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
#include "core/store/experiment.h"
#include "core/sweep/sweep_spec.h"

namespace ms::core::session {

struct SessionOptions {
    int probeSize = 128;        // probe images per data set (sweeps)
    int liveProbeSize = 32;     // probe images per data set for the interactive slider
    int realignSamples = 1000;  // labelled images per task for re-alignment
    int evalLimit = 0;          // eval images per task (0: the whole test split)
    std::uint64_t seed = 0;
    std::string featureCache;   // "" : no disk cache
    std::string digitsDir;      // "" : the default
};

struct TaskInfo {
    std::string name, type, dataset, metric;
    bool higherIsBetter = true;
    double expertScore = 0;
    std::string expertFile, expertHash;
    std::string head;  // "classifier (10 classes, mean pooling)", ...
};

struct LiveRequest {
    std::string method = "task_arithmetic";
    std::map<std::string, double> params;  // global numeric parameters (lambda, density, ...)
    std::vector<double> taskWeights;       // per task; empty: the method's defaults
    std::vector<double> lambdaBlocks;      // λ curve over the blocks; empty: the global λ
};

struct LiveResult {
    std::vector<double> perTask;  // normalised task alignment Â_t
    double mean = 0, min = 0;
    double mergeSeconds = 0, proxySeconds = 0;
};

struct SweepJob {
    sweep::SweepSpec spec;
    std::vector<std::string> proxies = {"task-alignment"};
    std::string downstream = "none";  // none | frozen | head-realign | repr-realign
    int headSteps = 300;
    int reprSteps = 150;
    bool resume = false;
};

using CommitFn = std::function<void(const store::Experiment&, const store::SweepRecord&, bool pointAdded)>;

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

    // The interactive path: merges (prepare cached between calls with the same λ-independent
    // settings) and scores the default proxy on the small live probe sets. One caller at a time.
    LiveResult live(const LiveRequest& request, const CancelToken* cancel = nullptr);

    // Runs a sweep into `experiment` (sweep::runSweep); re-entrant.
    std::string runSweep(const SweepJob& job, store::Experiment& experiment, const CommitFn& commit,
                         ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr) const;

    // Writes the merged encoder of one setting (task = −1, or the task's model for per-task
    // methods) to a checkpoint, with its recipe and input hashes in the metadata. Learned methods
    // (adamerging, calm) learn on the kit first; `choices` carries their non-numeric settings.
    void saveMerged(const std::string& method, const std::map<std::string, double>& params,
                    const std::vector<double>& taskWeights, const std::string& path, int task = -1,
                    ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr,
                    const std::map<std::string, std::string>& choices = {},
                    const std::vector<double>& lambdaBlocks = {}) const;

private:
    struct Impl;
    explicit KitSession(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// A kit's base and expert files (with task names), read from its manifest (verified).
struct KitInputs {
    std::string base;
    std::vector<std::pair<std::string, std::string>> experts;  // (file, task)
};
KitInputs kitInputs(const std::string& kitDir);

// The demo kit: its default directory and a build that reuses a valid cache.
std::string defaultDemoKitDir();
std::string defaultFeatureCacheDir();
std::string buildDemoKit(const std::string& dir, std::uint64_t seed, ProgressSink& progress, const CancelToken* cancel);

}  // namespace ms::core::session
