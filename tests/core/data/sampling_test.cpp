// Seeded, class-balanced sampling and stratified splits.
#include "core/data/sampling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace ms::core::data {
namespace {

std::vector<std::int32_t> labels() {
    std::vector<std::int32_t> l;
    for (int i = 0; i < 1000; ++i) l.push_back(i % 7 == 0 ? 3 : i % 4);  // unbalanced
    return l;
}

TEST(Sampling, BalancedSampleTakesPerClassCountsDeterministically) {
    const auto l = labels();
    const auto a = balancedSample(l, 4, 20, 7);
    EXPECT_EQ(a.size(), 80u);
    std::vector<int> counts(4, 0);
    for (auto i : a) ++counts[static_cast<std::size_t>(l[i])];
    EXPECT_EQ(counts, std::vector<int>(4, 20));
    EXPECT_EQ(l[a[0]], 0);  // classes interleaved
    EXPECT_EQ(l[a[1]], 1);
    EXPECT_EQ(balancedSample(l, 4, 20, 7), a);
    EXPECT_NE(balancedSample(l, 4, 20, 8), a);
    EXPECT_EQ(std::set<std::size_t>(a.begin(), a.end()).size(), a.size()) << "no duplicates";
    const auto b = balancedSample(l, 4, 20, 7, a);
    for (auto i : b) EXPECT_EQ(std::count(a.begin(), a.end(), i), 0) << "excluded indices are never chosen";
}

TEST(Sampling, StratifiedSplitKeepsClassProportions) {
    const auto l = labels();
    const auto [first, rest] = stratifiedSplit(l, 4, 0.25, 3);
    EXPECT_EQ(first.size() + rest.size(), l.size());
    std::set<std::size_t> all(first.begin(), first.end());
    all.insert(rest.begin(), rest.end());
    EXPECT_EQ(all.size(), l.size());
    for (int c = 0; c < 4; ++c) {
        const auto total = std::count(l.begin(), l.end(), c);
        const auto inFirst = std::count_if(first.begin(), first.end(), [&](std::size_t i) { return l[i] == c; });
        EXPECT_EQ(inFirst, static_cast<long>(static_cast<double>(total) * 0.25)) << c;
    }
}

TEST(Sampling, ShuffleIsPortable) {
    // Fixed expectation: the same on every standard library (hand-written Fisher-Yates).
    std::vector<std::size_t> v(10);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = i;
    seededShuffle(v, 42);
    std::vector<std::size_t> again(10);
    for (std::size_t i = 0; i < again.size(); ++i) again[i] = i;
    seededShuffle(again, 42);
    EXPECT_EQ(v, again);
    EXPECT_NE(v, std::vector<std::size_t>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

}  // namespace
}  // namespace ms::core::data
