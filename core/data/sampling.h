// Deterministic, seeded sampling of image indices: class-balanced subsets (probe, train, eval)
// and stratified splits. The same seed gives the same indices on every machine (std::mt19937_64
// and a hand-written shuffle: std::shuffle's algorithm is not specified by the standard).
#pragma once

#include <cstdint>
#include <vector>

namespace ms::core::data {

// Fisher–Yates with mt19937_64, portable across standard libraries.
void seededShuffle(std::vector<std::size_t>& v, std::uint64_t seed);

// `perClass` indices of each class (all of a class if it has fewer), classes interleaved
// (c0, c1, ..., c0, c1, ...), chosen by `seed`; `exclude` indices are never chosen.
std::vector<std::size_t> balancedSample(const std::vector<std::int32_t>& labels, int classes, std::size_t perClass,
                                        std::uint64_t seed, const std::vector<std::size_t>& exclude = {});

// Splits every class into [first fraction | rest] by `seed`: returns {first, rest}.
std::pair<std::vector<std::size_t>, std::vector<std::size_t>> stratifiedSplit(const std::vector<std::int32_t>& labels,
                                                                              int classes, double fraction,
                                                                              std::uint64_t seed);

}  // namespace ms::core::data
