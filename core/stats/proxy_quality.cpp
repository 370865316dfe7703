#include "core/stats/proxy_quality.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace ms::core::stats {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int sign(double v) { return (v > 0) - (v < 0); }
}  // namespace

std::vector<double> averageRanks(const std::vector<double>& values) {
    std::vector<std::size_t> order(values.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
    std::vector<double> ranks(values.size());
    for (std::size_t i = 0; i < order.size();) {
        std::size_t j = i;
        while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
        const double rank = 0.5 * static_cast<double>(i + j) + 1.0;  // average of positions i..j, 1-based
        for (std::size_t k = i; k <= j; ++k) ranks[order[k]] = rank;
        i = j + 1;
    }
    return ranks;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
    const std::size_t n = std::min(x.size(), y.size());
    if (n < 2) return kNaN;
    const std::vector<double> rx = averageRanks(std::vector<double>(x.begin(), x.begin() + static_cast<long>(n)));
    const std::vector<double> ry = averageRanks(std::vector<double>(y.begin(), y.begin() + static_cast<long>(n)));
    const double mean = 0.5 * static_cast<double>(n + 1);
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < n; ++i) {
        sxy += (rx[i] - mean) * (ry[i] - mean);
        sxx += (rx[i] - mean) * (rx[i] - mean);
        syy += (ry[i] - mean) * (ry[i] - mean);
    }
    if (sxx == 0 || syy == 0) return kNaN;
    return sxy / std::sqrt(sxx * syy);
}

double kendall(const std::vector<double>& x, const std::vector<double>& y) {
    // O(n²): sweeps have at most a few thousand points.
    const std::size_t n = std::min(x.size(), y.size());
    if (n < 2) return kNaN;
    double concordant = 0, tiesX = 0, tiesY = 0, pairs = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = i + 1; j < n; ++j) {
            const int sx = sign(x[i] - x[j]), sy = sign(y[i] - y[j]);
            pairs += 1;
            if (sx == 0) tiesX += 1;
            if (sy == 0) tiesY += 1;
            concordant += sx * sy;  // +1 concordant, −1 discordant, 0 tied in either
        }
    const double denom = std::sqrt((pairs - tiesX) * (pairs - tiesY));
    if (denom == 0) return kNaN;
    return concordant / denom;
}

std::optional<ProxyQuality> judgeProxy(const std::vector<double>& proxy, const std::vector<double>& downstream,
                                       const std::vector<double>& proxySeconds,
                                       const std::vector<double>& downstreamSeconds) {
    std::vector<double> p, d;
    std::vector<int> index;
    double ps = 0, ds = 0;
    for (std::size_t i = 0; i < std::min(proxy.size(), downstream.size()); ++i) {
        if (!std::isfinite(proxy[i]) || !std::isfinite(downstream[i])) continue;
        p.push_back(proxy[i]);
        d.push_back(downstream[i]);
        index.push_back(static_cast<int>(i));
        if (i < proxySeconds.size()) ps += proxySeconds[i];
        if (i < downstreamSeconds.size()) ds += downstreamSeconds[i];
    }
    if (p.size() < 2) return std::nullopt;
    ProxyQuality q;
    q.points = static_cast<int>(p.size());
    q.spearman = spearman(p, d);
    q.kendall = kendall(p, d);
    const auto pb = static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
    const auto db = static_cast<std::size_t>(std::max_element(d.begin(), d.end()) - d.begin());
    q.proxyBest = index[pb];
    q.downstreamBest = index[db];
    q.regret = d[db] - d[pb];
    q.costRatio = ps > 0 ? ds / ps : kNaN;
    return q;
}

}  // namespace ms::core::stats
