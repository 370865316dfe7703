// How a sweep scores its points and how it runs: the one options type of the CLI, the workbench,
// the runner (session::SweepRun) and the experiment record, which keeps the `scoring` part
// (store::SweepRecord::scoring; JSON only at the HDF5 boundary). Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/sweep/sweep_spec.h"

namespace ms::core::sweep {

enum class DownstreamMode { None, Frozen, HeadRealign, ReprRealign };
std::string downstreamModeName(DownstreamMode m);  // none, frozen, head-realign, repr-realign
// InvalidArgument naming the known modes.
DownstreamMode parseDownstreamMode(const std::string& name);

struct DownstreamOptions {
    DownstreamMode mode = DownstreamMode::Frozen;
    // head-realign
    int headSteps = 300;
    int headBatch = 128;
    double headLr = 1e-3;
    // repr-realign
    int reprSteps = 150;
    int reprBatch = 64;  // per data set and step
    double reprLr = 1e-3;
    int adapterRank = 16;
    std::uint64_t seed = 0;
};

// The images a sweep drew from its kit (eval::SuiteOptions less where the data sets lie).
struct DataOptions {
    int probeSize = 128;
    int realignSamples = 1000;
    int evalLimit = 0;  // 0: the whole eval split
    std::uint64_t seed = 0;
};

struct ScoringOptions {
    std::vector<std::string> proxies = {"task-alignment"};  // variants; the first is the primary; empty: none
    DownstreamOptions downstream;                            // mode None: no downstream
    DataOptions data;

    // The stored form (canonical: equal options, equal text; the form release 0.1 wrote).
    std::string toJson() const;
    // Reads that form; fields an older file lacks (and an empty text) keep their defaults. FormatError naming
    // `source` for text that is no JSON object.
    static ScoringOptions fromJson(const std::string& json, const std::string& source);
};
bool operator==(const ScoringOptions& a, const ScoringOptions& b);
inline bool operator!=(const ScoringOptions& a, const ScoringOptions& b) { return !(a == b); }

struct SweepOptions {
    SweepSpec spec;
    ScoringOptions scoring;    // data: the runner records what the loaded suite drew
    std::string featureCache;  // "" : no disk cache for expert features
    bool resume = false;       // continue the newest sweep of the file with the same spec, scoring and shard
    Shard shard;               // compute only this shard's points (the record keeps them and its "I/N")
};

}  // namespace ms::core::sweep
