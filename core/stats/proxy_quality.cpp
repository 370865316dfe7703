#include "core/stats/proxy_quality.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace ms::core::stats {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
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
    // Knight's O(n log n) algorithm (a gathered sweep can hold 100,000 points): sort by (x, y),
    // count the inversions left in y by a merge sort (the discordant pairs), and the ties.
    const std::size_t n = std::min(x.size(), y.size());
    if (n < 2) return kNaN;
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b] || (x[a] == x[b] && y[a] < y[b]); });
    const auto tiedPairs = [](double t) { return t * (t - 1) / 2; };
    double tiesX = 0, tiesXY = 0;
    for (std::size_t i = 0; i < n;) {  // runs of equal x, and within them of equal (x, y)
        std::size_t j = i;
        while (j < n && x[order[j]] == x[order[i]]) ++j;
        tiesX += tiedPairs(static_cast<double>(j - i));
        for (std::size_t k = i; k < j;) {
            std::size_t m = k;
            while (m < j && y[order[m]] == y[order[k]]) ++m;
            tiesXY += tiedPairs(static_cast<double>(m - k));
            k = m;
        }
        i = j;
    }
    std::vector<double> v(n), buf(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = y[order[i]];
    double swaps = 0;
    for (std::size_t width = 1; width < n; width *= 2) {  // bottom-up merge sort counting inversions
        for (std::size_t lo = 0; lo < n; lo += 2 * width) {
            const std::size_t mid = std::min(lo + width, n), hi = std::min(lo + 2 * width, n);
            std::size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (v[j] < v[i]) {
                    swaps += static_cast<double>(mid - i);
                    buf[k++] = v[j++];
                } else {
                    buf[k++] = v[i++];
                }
            }
            while (i < mid) buf[k++] = v[i++];
            while (j < hi) buf[k++] = v[j++];
        }
        v.swap(buf);
    }
    double tiesY = 0;
    for (std::size_t i = 0; i < n;) {  // v is sorted now
        std::size_t j = i;
        while (j < n && v[j] == v[i]) ++j;
        tiesY += tiedPairs(static_cast<double>(j - i));
        i = j;
    }
    const double pairs = tiedPairs(static_cast<double>(n));
    const double denom = std::sqrt((pairs - tiesX) * (pairs - tiesY));
    if (denom == 0) return kNaN;
    return (pairs - tiesX - tiesY + tiesXY - 2 * swaps) / denom;
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
