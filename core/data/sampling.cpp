#include "core/data/sampling.h"

#include <algorithm>
#include <random>
#include <unordered_set>

namespace ms::core::data {

void seededShuffle(std::vector<std::size_t>& v, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (std::size_t i = v.size(); i > 1; --i) {
        const std::size_t j = static_cast<std::size_t>(rng() % i);  // bias < 2^-40 for these sizes
        std::swap(v[i - 1], v[j]);
    }
}

namespace {
std::vector<std::vector<std::size_t>> byClass(const std::vector<std::int32_t>& labels, int classes,
                                              const std::vector<std::size_t>& exclude, std::uint64_t seed) {
    std::unordered_set<std::size_t> skip(exclude.begin(), exclude.end());
    std::vector<std::vector<std::size_t>> groups(static_cast<std::size_t>(classes));
    for (std::size_t i = 0; i < labels.size(); ++i)
        if (labels[i] >= 0 && labels[i] < classes && !skip.count(i)) groups[static_cast<std::size_t>(labels[i])].push_back(i);
    for (std::size_t c = 0; c < groups.size(); ++c) seededShuffle(groups[c], seed * 1000003u + c);
    return groups;
}
}  // namespace

std::vector<std::size_t> balancedSample(const std::vector<std::int32_t>& labels, int classes, std::size_t perClass,
                                        std::uint64_t seed, const std::vector<std::size_t>& exclude) {
    const auto groups = byClass(labels, classes, exclude, seed);
    std::vector<std::size_t> out;
    for (std::size_t k = 0; k < perClass; ++k)
        for (const auto& g : groups)
            if (k < g.size()) out.push_back(g[k]);
    return out;
}

std::pair<std::vector<std::size_t>, std::vector<std::size_t>> stratifiedSplit(const std::vector<std::int32_t>& labels,
                                                                              int classes, double fraction,
                                                                              std::uint64_t seed) {
    const auto groups = byClass(labels, classes, {}, seed);
    std::pair<std::vector<std::size_t>, std::vector<std::size_t>> out;
    for (const auto& g : groups) {
        const auto cut = static_cast<std::size_t>(static_cast<double>(g.size()) * fraction);
        out.first.insert(out.first.end(), g.begin(), g.begin() + static_cast<std::ptrdiff_t>(cut));
        out.second.insert(out.second.end(), g.begin() + static_cast<std::ptrdiff_t>(cut), g.end());
    }
    std::sort(out.first.begin(), out.first.end());
    std::sort(out.second.begin(), out.second.end());
    return out;
}

}  // namespace ms::core::data
