// What the plots draw, computed from an experiment as plain values (testable without widgets).
#pragma once

#include <string>
#include <vector>

#include "core/store/experiment.h"

namespace ms::ui {

struct Series {
    std::string name;  // task name, or "mean"
    int task = -1;     // -1: the aggregate
    std::vector<double> x, y;
    std::vector<int> points;  // the sweep's point index of each (x, y)
};

// Proxy and downstream against one swept parameter. With several parameters, the slice through
// the best downstream point (else the best proxy point): the other parameters held at its values.
struct SweepCurves {
    std::string xName;
    std::vector<Series> proxy, downstream;  // per task, then the mean
    int bestProxy = -1, bestDownstream = -1;  // point indices (over the whole sweep)
};
// `downstream`: what the downstream curves show — normalized performance per task and its mean,
// or Δ_t per task and ΔMTL (sweeps recorded before 0.2 fall back to the mean).
using core::store::DownstreamAggregate;
SweepCurves sweepCurves(const core::store::SweepRecord& sweep, const std::string& proxyVariant, int xColumn = -1,
                        DownstreamAggregate downstream = DownstreamAggregate::MeanNormalized);
// A point's downstream value for task `task` (-1: the aggregate) under `a`; NaN when missing.
double downstreamValue(const core::store::PointRecord& p, DownstreamAggregate a, int task = -1);

// Two swept parameters as a grid: rows = distinct values of column b, columns = of column a.
struct Heatmap {
    std::string xName, yName;
    std::vector<double> xs, ys;
    std::vector<double> values;  // ys.size() × xs.size(), row-major; NaN where no point
};
Heatmap heatmap(const core::store::SweepRecord& sweep, bool downstream, const std::string& proxyVariant, int a = 0, int b = 1,
                DownstreamAggregate aggregate = DownstreamAggregate::MeanNormalized);

// A relations sweep at one λ: rows = the task vector added, columns = the task scored.
struct RelationsMatrix {
    std::vector<std::string> tasks;
    std::vector<double> lambdas;  // available λ values
    std::vector<double> values;   // T×T normalized performance at the chosen λ (NaN: missing)
};
RelationsMatrix relationsMatrix(const core::store::SweepRecord& sweep, double lambda);

}  // namespace ms::ui
