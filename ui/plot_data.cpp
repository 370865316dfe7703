#include "ui/plot_data.h"

#include <algorithm>
#include <cmath>

namespace ms::ui {

using core::store::PointRecord;
using core::store::SweepRecord;

namespace {
std::vector<double> distinct(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}
int indexOf(const std::vector<double>& v, double x) {
    const auto it = std::lower_bound(v.begin(), v.end(), x);
    return it != v.end() && *it == x ? static_cast<int>(it - v.begin()) : -1;
}
}  // namespace

double downstreamValue(const PointRecord& p, DownstreamAggregate a, int task) {
    if (task < 0) return p.downstream(a);
    const auto t = static_cast<std::size_t>(task);
    if (a == DownstreamAggregate::DeltaMtl && t < p.delta.size()) return p.delta[t];
    return p.hasDownstream() && t < p.normalized.size() ? p.normalized[t] : NAN;
}

SweepCurves sweepCurves(const SweepRecord& s, const std::string& variant, int xColumn, DownstreamAggregate aggregate) {
    SweepCurves c;
    const int K = static_cast<int>(s.paramNames.size());
    if (K == 0 || s.points.empty()) return c;
    if (xColumn < 0 || xColumn >= K) xColumn = K - 1;  // the last axis is usually λ
    c.xName = s.paramNames[static_cast<std::size_t>(xColumn)];
    double bestD = -INFINITY, bestP = -INFINITY;
    for (std::size_t i = 0; i < s.points.size(); ++i) {
        const double d = s.points[i].downstream(aggregate), p = s.points[i].proxyMean(variant);
        if (std::isfinite(d) && d > bestD) bestD = d, c.bestDownstream = static_cast<int>(i);
        if (std::isfinite(p) && p > bestP) bestP = p, c.bestProxy = static_cast<int>(i);
    }
    const int anchor = c.bestDownstream >= 0 ? c.bestDownstream : c.bestProxy;
    std::vector<int> slice;
    for (std::size_t i = 0; i < s.points.size(); ++i) {
        bool same = true;
        for (int k = 0; k < K && same && anchor >= 0; ++k)
            if (k != xColumn) same = s.points[i].params[static_cast<std::size_t>(k)] == s.points[static_cast<std::size_t>(anchor)].params[static_cast<std::size_t>(k)];
        if (same) slice.push_back(static_cast<int>(i));
    }
    std::sort(slice.begin(), slice.end(), [&](int a, int b) {
        return s.points[static_cast<std::size_t>(a)].params[static_cast<std::size_t>(xColumn)] <
               s.points[static_cast<std::size_t>(b)].params[static_cast<std::size_t>(xColumn)];
    });
    const std::size_t T = s.tasks.size();
    for (int which = 0; which < 2; ++which) {
        std::vector<Series>& out = which == 0 ? c.proxy : c.downstream;
        for (int t = 0; t <= static_cast<int>(T); ++t) {
            Series ser;
            ser.task = t < static_cast<int>(T) ? t : -1;
            ser.name = ser.task >= 0 ? s.tasks[static_cast<std::size_t>(t)] : "mean";
            for (int i : slice) {
                const PointRecord& p = s.points[static_cast<std::size_t>(i)];
                double y = NAN;
                if (which == 0) {
                    const auto it = p.proxy.find(variant);
                    if (it != p.proxy.end()) y = ser.task >= 0 ? it->second[static_cast<std::size_t>(t)] : p.proxyMean(variant);
                } else if (p.hasDownstream()) {
                    y = downstreamValue(p, aggregate, ser.task);
                }
                if (!std::isfinite(y)) continue;
                ser.x.push_back(p.params[static_cast<std::size_t>(xColumn)]);
                ser.y.push_back(y);
                ser.points.push_back(i);
            }
            if (!ser.x.empty()) out.push_back(std::move(ser));
        }
    }
    return c;
}

Heatmap heatmap(const SweepRecord& s, bool downstream, const std::string& variant, int a, int b, DownstreamAggregate aggregate) {
    Heatmap h;
    const int K = static_cast<int>(s.paramNames.size());
    if (K < 2 || a >= K || b >= K || a == b) return h;
    h.xName = s.paramNames[static_cast<std::size_t>(a)];
    h.yName = s.paramNames[static_cast<std::size_t>(b)];
    std::vector<double> xs, ys;
    for (const auto& p : s.points) {
        xs.push_back(p.params[static_cast<std::size_t>(a)]);
        ys.push_back(p.params[static_cast<std::size_t>(b)]);
    }
    h.xs = distinct(xs);
    h.ys = distinct(ys);
    h.values.assign(h.xs.size() * h.ys.size(), NAN);
    for (const auto& p : s.points) {
        const int xi = indexOf(h.xs, p.params[static_cast<std::size_t>(a)]), yi = indexOf(h.ys, p.params[static_cast<std::size_t>(b)]);
        const double v = downstream ? p.downstream(aggregate) : p.proxyMean(variant);
        if (xi >= 0 && yi >= 0) h.values[static_cast<std::size_t>(yi) * h.xs.size() + static_cast<std::size_t>(xi)] = v;
    }
    return h;
}

RelationsMatrix relationsMatrix(const SweepRecord& s, double lambda) {
    RelationsMatrix m;
    m.tasks = s.tasks;
    const std::size_t T = s.tasks.size();
    m.values.assign(T * T, NAN);
    if (s.kind() != core::store::SweepKind::Relations || s.paramNames.size() != 2) return m;
    std::vector<double> ls;
    for (const auto& p : s.points) ls.push_back(p.params[1]);
    m.lambdas = distinct(ls);
    for (const auto& p : s.points) {
        if (p.params[1] != lambda || !p.hasDownstream()) continue;
        const auto added = static_cast<std::size_t>(p.params[0]);
        for (std::size_t t = 0; t < T && added < T; ++t) m.values[added * T + t] = p.normalized[t];
    }
    return m;
}

}  // namespace ms::ui
