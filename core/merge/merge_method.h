// The interface every merge method implements. A method splits into
//   prepare: the λ-independent work over the whole model (top-k thresholds, sign election,
//            rescalers, per-tensor statistics), done once per prepare-affecting parameters;
//   apply:   coefficients → merged float32 values of one chunk, a fused pass over the inputs.
// Changing only λ or the per-model weights reuses the prepared state.
#pragma once

#include <memory>
#include <vector>

#include "core/jobs/progress.h"
#include "core/merge/merge_artifact.h"
#include "core/merge/merge_problem.h"
#include "core/merge/method_args.h"
#include "core/merge/method_info.h"

namespace ms::core::merge {

struct PreparedState {
    virtual ~PreparedState() = default;
    // What the preparation produced besides the weights (learned methods: loss, coefficients, masks).
    virtual const Artifacts* artifacts() const { return nullptr; }
    virtual std::string summaryJson() const { return {}; }  // for the merged file's metadata
};

struct Coefficients {
    double lambda = 1.0;          // already resolved for the tensor (overrides, block curve)
    std::vector<double> weights;  // w_t per model
    int task = -1;                // per-task methods: which task's model
    // false: write λ·(merged task vector) without θ0 (the engine caches it for λ-only changes).
    // Only methods with a `lambda` parameter see false.
    bool addBase = true;
};

class MergeMethod {
public:
    virtual ~MergeMethod() = default;
    virtual const MethodInfo& info() const = 0;
    virtual std::shared_ptr<const PreparedState> prepare(const MergeProblem& problem, const MethodArgs& args,
                                                         ProgressSink& progress, const CancelToken* cancel) const;
    // Writes the merged values of the chunk (c.n floats) to out.
    virtual void apply(const MergeProblem& problem, const PreparedState* prepared, const MethodArgs& args,
                       const Coefficients& k, const ChunkView& c, float* out) const = 0;
};

// θ0 at element i of the chunk, or 0 when the engine asks for the task vector alone.
inline float base0(const ChunkView& c, std::size_t i, const Coefficients& k) { return k.addBase ? c.base[i] : 0.0f; }

// Declaring parameters.
ParamSpec numberParam(const std::string& name, double def, double min, double max, const std::string& help,
                      bool perModel = false, bool affectsPrepare = false);
ParamSpec integerParam(const std::string& name, double def, double min, double max, const std::string& help,
                       bool affectsPrepare = false);
ParamSpec choiceParam(const std::string& name, const std::string& def, std::vector<std::string> choices,
                      const std::string& help, bool affectsPrepare = false);

// Parameters several methods share, declared once.
ParamSpec lambdaParam();
ParamSpec weightParam();
ParamSpec densityParam(double def, bool affectsPrepare, const std::string& help);
ParamSpec topkScopeParam();
ParamSpec disjointParam(const std::string& def);
ParamSpec seedParam(bool affectsPrepare);

}  // namespace ms::core::merge
