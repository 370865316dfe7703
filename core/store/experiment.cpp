#include "core/store/experiment.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "core/errors.h"
#include "core/stats/proxy_quality.h"

namespace ms::core::store {

namespace {
// Over the values present: a task without a score (NaN: proxy-only, or no head for frozen) is
// left out of the mean, not counted as zero.
double mean(const std::vector<double>& v) {
    double s = 0;
    std::size_t n = 0;
    for (double x : v)
        if (!std::isnan(x)) s += x, ++n;
    return n ? s / static_cast<double>(n) : kMissing;
}
}  // namespace

namespace {
constexpr std::pair<SweepStatus, const char*> kStatuses[] = {{SweepStatus::Running, "running"},
                                                              {SweepStatus::Complete, "complete"},
                                                              {SweepStatus::Cancelled, "cancelled"},
                                                              {SweepStatus::Failed, "failed"}};
template <typename E, std::size_t N>
const char* nameOf(const std::pair<E, const char*> (&table)[N], E value) {
    for (const auto& [v, n] : table)
        if (v == value) return n;
    return "?";
}
template <typename E, std::size_t N>
E parseName(const std::pair<E, const char*> (&table)[N], const std::string& name, const std::string& source, const char* what) {
    std::string known;
    for (const auto& [v, n] : table) {
        if (name == n) return v;
        known += (known.empty() ? "" : ", ") + std::string(n);
    }
    throw FormatError(source, std::string("unknown sweep ") + what + " '" + name + "' (known: " + known + ")");
}
}  // namespace

const char* sweepStatusName(SweepStatus s) { return nameOf(kStatuses, s); }
SweepStatus parseSweepStatus(const std::string& name, const std::string& source) {
    return parseName(kStatuses, name, source, "status");
}

double PointRecord::downstreamMean() const { return mean(normalized); }
double PointRecord::deltaMtl() const { return mean(delta); }
double PointRecord::downstream(DownstreamAggregate a) const {
    return a == DownstreamAggregate::DeltaMtl && !delta.empty() ? deltaMtl() : downstreamMean();
}

std::string downstreamAggregateName(DownstreamAggregate a) { return a == DownstreamAggregate::DeltaMtl ? "delta-mtl" : "mean"; }

DownstreamAggregate parseDownstreamAggregate(const std::string& name) {
    if (name == "delta-mtl") return DownstreamAggregate::DeltaMtl;
    if (name == "mean") return DownstreamAggregate::MeanNormalized;
    throw InvalidArgument("unknown downstream aggregate '" + name + "' (delta-mtl, mean)");
}

double PointRecord::proxyMean(const std::string& variant) const {
    const auto it = proxy.find(variant);
    return it == proxy.end() ? kMissing : mean(it->second);
}

double PointRecord::proxyMin(const std::string& variant) const {
    const auto it = proxy.find(variant);
    if (it == proxy.end() || it->second.empty()) return kMissing;
    double m = it->second.front();
    for (double x : it->second) m = std::fmin(m, x);
    return m;
}

std::vector<SweepSummary> SweepRecord::summaries(DownstreamAggregate against) const {
    std::vector<SweepSummary> out;
    if (metricNames.empty()) against = DownstreamAggregate::MeanNormalized;  // recorded before 0.2: no ΔMTL
    for (const auto& variant : proxies()) {
        std::vector<double> p, d, ps, ds;
        for (const auto& pt : points) {
            p.push_back(pt.proxyMean(variant));
            d.push_back(pt.downstream(against));
            ps.push_back(pt.proxySeconds);
            ds.push_back(pt.downstreamSeconds);
        }
        const auto q = stats::judgeProxy(p, d, ps, ds);
        if (!q) continue;
        SweepSummary s;
        s.proxy = variant;
        s.downstream = against;
        s.points = q->points;
        s.spearman = q->spearman;
        s.kendall = q->kendall;
        s.regret = q->regret;
        s.costRatio = q->costRatio;
        s.proxyBest = q->proxyBest;
        s.downstreamBest = q->downstreamBest;
        out.push_back(s);
    }
    return out;
}

int SweepRecord::findPoint(const std::vector<double>& params) const {
    for (std::size_t i = 0; i < points.size(); ++i) {
        const auto& p = points[i].params;
        if (p.size() != params.size()) continue;
        bool same = true;
        for (std::size_t k = 0; k < p.size() && same; ++k)
            same = p[k] == params[k] || std::fabs(p[k] - params[k]) <= 1e-12 * std::fmax(1.0, std::fabs(p[k]));
        if (same) return static_cast<int>(i);
    }
    return -1;
}

SweepRecord* Experiment::findSweep(const std::string& id) {
    for (auto& s : sweeps)
        if (s.id == id) return &s;
    return nullptr;
}

const SweepRecord* Experiment::findSweep(const std::string& id) const {
    return const_cast<Experiment*>(this)->findSweep(id);
}

std::string Experiment::nextSweepId() const {
    for (int n = static_cast<int>(sweeps.size()) + 1;; ++n) {
        char id[32];
        std::snprintf(id, sizeof id, "sweep-%03d", n);
        if (!findSweep(id)) return id;
    }
}

std::string isoNow() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace ms::core::store
