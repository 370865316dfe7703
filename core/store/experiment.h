// What an experiment holds, as plain values: the kit and inputs it ran on, and its sweeps with
// every completed point (parameters, proxy scores per variant and task, downstream scores per
// task, timings). The HDF5 form is in experiment_store.h and docs/experiment-file.md.
#pragma once

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/merge/merge_artifact.h"
#include "core/sweep/sweep_options.h"
#include "core/sweep/sweep_spec.h"

namespace ms::core::store {

inline constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

using InputRecord = sweep::InputRecord;

// A numeric array a point keeps beside its scores (learned methods: their loss curve, learned
// coefficients or mask densities), row-major with its shape.
using Artifact = merge::Artifact;

using SweepKind = sweep::SweepKind;
using sweep::parseSweepKind;
using sweep::sweepKindName;
enum class SweepStatus { Running, Complete, Cancelled, Failed };
// The names the file and the reports use: "running", "complete", ...
const char* sweepStatusName(SweepStatus s);
// Throws FormatError naming `source` for an unknown name.
SweepStatus parseSweepStatus(const std::string& name, const std::string& source);

// What "downstream" means when a proxy is judged against it: LibMTL's ΔMTL (every metric of every
// task against the experts), or the mean normalized performance (primary metrics). Sweeps recorded
// before 0.2 have no ΔMTL and are judged on the mean.
enum class DownstreamAggregate { DeltaMtl, MeanNormalized };
std::string downstreamAggregateName(DownstreamAggregate a);  // delta-mtl, mean
DownstreamAggregate parseDownstreamAggregate(const std::string& name);  // throws InvalidArgument

struct PointRecord {
    std::vector<double> params;                        // one per SweepRecord::paramNames
    std::map<std::string, std::vector<double>> proxy;  // variant → normalised alignment per task
    std::vector<double> metric;                        // downstream raw metric per task (empty: none)
    std::vector<double> normalized;                    // downstream normalized performance per task
    // Every metric the sweep's tasks report → its value per task (NaN: not the task's metric, or
    // not scored), and LibMTL's Δ_t per task; empty in points of files before 0.2.
    std::map<std::string, std::vector<double>> metrics;
    std::vector<double> delta;
    double mergeSeconds = 0, proxySeconds = 0, downstreamSeconds = 0;
    std::string completedAt;  // ISO 8601, UTC
    std::map<std::string, Artifact> artifacts;

    bool hasDownstream() const { return !normalized.empty(); }
    double downstreamMean() const;                        // mean normalized performance over the tasks scored (NaN: none)
    double deltaMtl() const;                              // mean Δ_t over the tasks scored (NaN: none or not recorded)
    double downstream(DownstreamAggregate a) const;       // ΔMTL where recorded, else the mean
    double proxyMean(const std::string& variant) const;  // mean over tasks (NaN: none)
    double proxyMin(const std::string& variant) const;
};

struct SweepSummary {
    std::string proxy;  // variant judged
    DownstreamAggregate downstream = DownstreamAggregate::MeanNormalized;  // against what
    int points = 0;
    double spearman = kMissing, kendall = kMissing, regret = kMissing, costRatio = kMissing;
    int proxyBest = -1, downstreamBest = -1;  // point indices
};

struct SweepRecord {
    std::string id;                  // "sweep-001", ...
    sweep::SweepSpec spec;           // kind, method and fixed settings (bound to the inputs), axes, sampling, seed
    sweep::ScoringOptions scoring;   // proxy variants (the first is the primary), downstream, data drawn
    std::vector<std::string> tasks;
    std::vector<std::string> paramNames;  // the plan's columns
    std::vector<std::string> metricNames;  // every metric its tasks report (downstream/metrics/<name>); empty before 0.2
    SweepStatus status = SweepStatus::Running;
    std::string created, updated;
    int plannedPoints = 0;       // points this record will hold when complete (a shard: its share)
    std::string shard;           // "I/N" for shard I of N (sweep --shard), "" for a whole sweep
    std::vector<PointRecord> points;

    SweepKind kind() const { return spec.kind; }
    const std::string& method() const { return spec.merge.method; }
    const std::vector<std::string>& proxies() const { return scoring.proxies; }
    std::string downstream() const { return sweep::downstreamModeName(scoring.downstream.mode); }  // none | frozen | ...

    // Proxy quality per variant (mean proxy vs mean normalized downstream) over the points that
    // have both; empty when there is no downstream.
    std::vector<SweepSummary> summaries(DownstreamAggregate against = DownstreamAggregate::DeltaMtl) const;
    // The index of the point with exactly these parameters, or -1.
    int findPoint(const std::vector<double>& params) const;
};

struct Experiment {
    int schemaVersion = 2;  // of the file it was read from
    std::string toolVersion, created, modified;
    std::string kitDir, kitManifest;  // the kit's directory and its kit.yaml text
    std::vector<InputRecord> inputs;
    std::vector<SweepRecord> sweeps;

    SweepRecord* findSweep(const std::string& id);
    const SweepRecord* findSweep(const std::string& id) const;
    std::string nextSweepId() const;
};

// Now as ISO 8601 UTC ("2026-11-23T10:00:00Z").
std::string isoNow();

}  // namespace ms::core::store
