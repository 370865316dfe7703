#include "core/merge/topk_selection.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>

#include "core/errors.h"
#include "core/jobs/parallel.h"

namespace ms::core::merge {

namespace {
inline std::uint32_t magnitudeBits(float base, float expert) {
    const float a = std::fabs(expert - base);
    std::uint32_t b;
    std::memcpy(&b, &a, 4);
    return b;
}

inline float bitsToFloat(std::uint32_t b) {
    float f;
    std::memcpy(&f, &b, 4);
    return f;
}

// Finds the bin holding the rank-th smallest element (1-based); returns the bin and the rank
// within it.
std::pair<std::uint32_t, std::uint64_t> findBin(const std::vector<std::uint64_t>& hist, std::uint64_t rank) {
    std::uint64_t below = 0;
    for (std::uint32_t b = 0; b < hist.size(); ++b) {
        if (below + hist[b] >= rank) return {b, rank - below};
        below += hist[b];
    }
    throw Error("internal: top-k rank beyond the element count");
}
}  // namespace

std::uint64_t thresholdRank(std::uint64_t d, double density) {
    if (density >= 1.0) return 0;
    const auto kept = static_cast<std::uint64_t>(static_cast<double>(d) * density);
    return d - kept;  // >= 1 because kept < d when density < 1
}

TopKThresholds selectTopK(const MergeProblem& problem, const std::vector<double>& density,
                          TopKScope scope, ProgressSink& progress, const CancelToken* cancel) {
    const std::size_t T = problem.taskCount();
    const auto& tensors = problem.plan().merged;
    TopKThresholds out;
    out.m_perTensor = scope == TopKScope::PerTensor;
    out.m_keepAll.resize(T);
    out.m_values.assign(T, std::vector<float>(out.m_perTensor ? tensors.size() : 1, 0.0f));
    for (std::size_t t = 0; t < T; ++t) out.m_keepAll[t] = density[t] >= 1.0;

    if (out.m_perTensor) {
        // Per tensor: an exact nth_element over that tensor's magnitudes.
        std::vector<std::vector<float>> mags(T);
        for (std::size_t ti = 0; ti < tensors.size(); ++ti) {
            for (auto& m : mags) m.assign(tensors[ti].numel, 0.0f);
            problem.forEachChunkOf(ti, [&](unsigned, const ChunkView& c) {
                for (std::size_t t = 0; t < T; ++t)
                    for (std::size_t i = 0; i < c.n; ++i) mags[t][c.begin + i] = std::fabs(c.experts[t][i] - c.base[i]);
            }, cancel);
            for (std::size_t t = 0; t < T; ++t) {
                const std::uint64_t rank = thresholdRank(tensors[ti].numel, density[t]);
                if (rank == 0 || tensors[ti].numel == 0) continue;
                std::nth_element(mags[t].begin(), mags[t].begin() + static_cast<std::ptrdiff_t>(rank - 1), mags[t].end());
                out.m_values[t][ti] = mags[t][rank - 1];
            }
            progress.report("selecting top-k", ti + 1, tensors.size());
        }
        return out;
    }

    const std::uint64_t d = problem.plan().mergedElements;
    std::vector<std::uint64_t> rank(T);
    for (std::size_t t = 0; t < T; ++t) rank[t] = thresholdRank(d, density[t]);
    const unsigned threads = workerThreads();
    constexpr std::size_t kBins = 1 << 16;

    // Pass 1: histogram of the high 16 bits of |τ| per task.
    std::vector<std::vector<std::uint32_t>> local(threads * T, std::vector<std::uint32_t>(kBins, 0));
    problem.forEachChunk([&](unsigned th, const ChunkView& c) {
        for (std::size_t t = 0; t < T; ++t) {
            auto& h = local[th * T + t];
            for (std::size_t i = 0; i < c.n; ++i) ++h[magnitudeBits(c.base[i], c.experts[t][i]) >> 16];
        }
    }, progress, cancel, "selecting top-k (1/2)");
    std::vector<std::uint32_t> bin(T);
    std::vector<std::uint64_t> rankInBin(T);
    for (std::size_t t = 0; t < T; ++t) {
        if (rank[t] == 0) continue;
        std::vector<std::uint64_t> hist(kBins, 0);
        for (unsigned th = 0; th < threads; ++th)
            for (std::size_t b = 0; b < kBins; ++b) hist[b] += local[th * T + t][b];
        std::tie(bin[t], rankInBin[t]) = findBin(hist, rank[t]);
    }

    // Pass 2: histogram of the low 16 bits of the entries in the chosen bin.
    for (auto& h : local) std::fill(h.begin(), h.end(), 0);
    problem.forEachChunk([&](unsigned th, const ChunkView& c) {
        for (std::size_t t = 0; t < T; ++t) {
            if (rank[t] == 0) continue;
            auto& h = local[th * T + t];
            const std::uint32_t want = bin[t];
            for (std::size_t i = 0; i < c.n; ++i) {
                const std::uint32_t b = magnitudeBits(c.base[i], c.experts[t][i]);
                if ((b >> 16) == want) ++h[b & 0xffffu];
            }
        }
    }, progress, cancel, "selecting top-k (2/2)");
    for (std::size_t t = 0; t < T; ++t) {
        if (rank[t] == 0) continue;
        std::vector<std::uint64_t> hist(kBins, 0);
        for (unsigned th = 0; th < threads; ++th)
            for (std::size_t b = 0; b < kBins; ++b) hist[b] += local[th * T + t][b];
        const auto [low, unused] = findBin(hist, rankInBin[t]);
        (void)unused;
        out.m_values[t][0] = bitsToFloat((bin[t] << 16) | low);
    }
    return out;
}

}  // namespace ms::core::merge
