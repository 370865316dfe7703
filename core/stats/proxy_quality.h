// How well a proxy predicts downstream over the points of a sweep (METHODS.md, "Judging a
// proxy"): rank correlations, selection regret and cost ratio. Plain C++ on plain vectors.
#pragma once

#include <optional>
#include <vector>

namespace ms::core::stats {

// Ranks 1..n, ties sharing their average rank.
std::vector<double> averageRanks(const std::vector<double>& values);

// Spearman's ρ: Pearson correlation of the average ranks. NaN when either side is constant or
// there are fewer than 2 points.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

// Kendall's τ-b (ties in either variable accounted for, as scipy.stats.kendalltau). NaN when
// either side is constant or there are fewer than 2 points.
double kendall(const std::vector<double>& x, const std::vector<double>& y);

struct ProxyQuality {
    double spearman = 0, kendall = 0;
    double regret = 0;        // best downstream − downstream at the proxy's best point (≥ 0)
    double costRatio = 0;     // downstream seconds / proxy seconds over the same points
    int points = 0;
    int proxyBest = -1, downstreamBest = -1;  // indices into the inputs
};

// Over the points where both scores are finite. Higher is better for both scores; ties in the
// proxy's best are broken by the first point. nullopt when fewer than 2 such points.
std::optional<ProxyQuality> judgeProxy(const std::vector<double>& proxy, const std::vector<double>& downstream,
                                       const std::vector<double>& proxySeconds,
                                       const std::vector<double>& downstreamSeconds);

}  // namespace ms::core::stats
