// What a merge method that learns from data (MethodInfo::needsKit: adamerging, calm) is given
// besides the weights: a kit — its encoders, heads and unlabelled images — behind a torch-free
// interface, so that every method, learned or not, runs through MergeEngine's one
// prepare/apply path (core/learned implements it on a loaded eval::TaskSuite).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "core/jobs/progress.h"
#include "core/merge/merge_artifact.h"
#include "core/merge/method_args.h"

namespace ms::core::merge {

struct LearnedWeights {
    // Merged float32 values by tensor name (the checkpoint's names), for every tensor learned.
    std::unordered_map<std::string, std::vector<float>> tensors;
    Artifacts artifacts;      // loss curve, learned coefficients or mask densities
    std::string summaryJson;  // what the merged file's metadata keeps (mergescope.learned)
};

class KitContext {
public:
    virtual ~KitContext() = default;
    // The kit's directory (kept in the merged file's metadata).
    virtual std::string kitDir() const = 0;
    // Learns `method` with `args` on the kit. Deterministic for the args (their seed included).
    virtual LearnedWeights learn(const MethodInfo& method, const MethodArgs& args, ProgressSink& progress,
                                 const CancelToken* cancel) const = 0;
};

}  // namespace ms::core::merge
