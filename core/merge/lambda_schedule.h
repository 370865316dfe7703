// Per-tensor control of λ, on top of the global value: a curve over the transformer blocks
// (a list of values spread evenly over blocks 0..B−1 and interpolated linearly, as mergekit's
// gradients are) and regex overrides (the last matching pattern wins). Tensors outside any block
// (embeddings, final norm) keep the global λ unless a pattern names them.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ms::core::merge {

struct LambdaSchedule {
    std::vector<double> blockCurve;
    std::vector<std::pair<std::string, double>> overrides;  // (regex, λ)

    bool empty() const { return blockCurve.empty() && overrides.empty(); }
    // λ for a tensor; `globalLambda` is the method's λ, `block`/`blockCount` from the plan.
    // Throws InvalidArgument for a bad regex.
    double lambdaFor(const std::string& name, int block, int blockCount, double globalLambda) const;
};

// A `--lambda-blocks` value: numbers ("0.2,1.0": a curve), or a named schedule
// "lines:ALPHA,BETA" — LiNeS (Wang et al., ICLR 2025): block ℓ of B at α + β·ℓ/(B−1), the
// tensors outside the blocks at α (the reference code's LiNeS_scaling), i.e. the curve (α, α + β)
// with the global λ α. Throws InvalidArgument naming the text.
struct BlockSchedule {
    std::vector<double> curve;
    std::optional<double> lambda;  // the global λ the schedule sets (LiNeS: α)
};
BlockSchedule parseBlockSchedule(const std::string& text);

// Value of a curve of n >= 1 points spread over [0, count−1] at position `index`.
double interpolateCurve(const std::vector<double>& curve, int index, int count);

}  // namespace ms::core::merge
