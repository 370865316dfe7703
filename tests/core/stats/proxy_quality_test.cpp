// Rank correlations, regret and cost ratio on hand-worked cases (values checked against
// scipy.stats.spearmanr / kendalltau, which use average ranks and τ-b).
#include "core/stats/proxy_quality.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ms::core::stats {
namespace {

TEST(ProxyQuality, AverageRanksShareTies) {
    EXPECT_EQ(averageRanks({10, 30, 20, 30}), (std::vector<double>{1, 3.5, 2, 3.5}));
}

TEST(ProxyQuality, SpearmanAndKendallOnHandWorkedCases) {
    // One swapped pair of four: Σd² = 2 → ρ = 1 − 6·2/(4·15) = 0.8; τ = (5 − 1)/6.
    EXPECT_NEAR(spearman({1, 2, 3, 4}, {1, 3, 2, 4}), 0.8, 1e-12);
    EXPECT_NEAR(kendall({1, 2, 3, 4}, {1, 3, 2, 4}), 4.0 / 6.0, 1e-12);
    // A tie in x: ranks (1, 2.5, 2.5, 4); ρ = 4.5/√(4.5·5); τ-b = 5/√(5·6).
    EXPECT_NEAR(spearman({1, 2, 2, 3}, {1, 2, 3, 4}), 4.5 / std::sqrt(22.5), 1e-12);
    EXPECT_NEAR(kendall({1, 2, 2, 3}, {1, 2, 3, 4}), 5.0 / std::sqrt(30.0), 1e-12);
    // Monotone transforms do not change ranks; reversal flips the sign.
    EXPECT_NEAR(spearman({0.1, 0.5, 0.9}, {1, 100, 1000}), 1.0, 1e-12);
    EXPECT_NEAR(kendall({0.1, 0.5, 0.9}, {3, 2, 1}), -1.0, 1e-12);
    // Constant input: undefined.
    EXPECT_TRUE(std::isnan(kendall({1, 1, 1}, {1, 2, 3})));
    EXPECT_TRUE(std::isnan(spearman({1}, {1})));
}

TEST(ProxyQuality, RegretCostRatioAndMissingPoints) {
    const auto q = judgeProxy({0.1, 0.5, NAN, 0.3}, {0.2, 0.6, 0.99, 0.9}, {1, 1, 1, 2}, {10, 20, 30, 40});
    ASSERT_TRUE(q);
    EXPECT_EQ(q->points, 3);  // the NaN point is left out
    EXPECT_EQ(q->proxyBest, 1);
    EXPECT_EQ(q->downstreamBest, 3);
    EXPECT_NEAR(q->regret, 0.9 - 0.6, 1e-12);
    EXPECT_NEAR(q->costRatio, (10.0 + 20 + 40) / (1.0 + 1 + 2), 1e-12);
    EXPECT_FALSE(judgeProxy({1}, {1}, {1}, {1}));
    // A perfect proxy has no regret.
    EXPECT_EQ(judgeProxy({1, 2, 3}, {0.5, 0.7, 0.8}, {}, {})->regret, 0.0);
}

}  // namespace
}  // namespace ms::core::stats

namespace ms::core::stats {
namespace {

TEST(ProxyQuality, KendallEqualsThePairwiseDefinitionWithTies) {
    // The O(n log n) algorithm against the O(n²) definition of τ-b, on data with many ties.
    std::uint64_t state = 12345;
    const auto next = [&] { return (state = state * 6364136223846793005ULL + 1442695040888963407ULL) >> 33; };
    for (int round = 0; round < 30; ++round) {
        const std::size_t n = 2 + next() % 60;
        std::vector<double> x(n), y(n);
        for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<double>(next() % 7), y[i] = static_cast<double>(next() % 5);
        double c = 0, tx = 0, ty = 0, pairs = 0;
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = i + 1; j < n; ++j) {
                const int sx = (x[i] > x[j]) - (x[i] < x[j]), sy = (y[i] > y[j]) - (y[i] < y[j]);
                pairs += 1, tx += sx == 0, ty += sy == 0, c += sx * sy;
            }
        const double d = std::sqrt((pairs - tx) * (pairs - ty));
        const double k = kendall(x, y);
        if (d == 0) EXPECT_TRUE(std::isnan(k));
        else EXPECT_NEAR(k, c / d, 1e-12) << "round " << round;
    }
}

}  // namespace
}  // namespace ms::core::stats
