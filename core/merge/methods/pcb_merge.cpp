// PCB merging (Du et al., NeurIPS 2024, "Parameter Competition Balancing for Model Merging"), as
// the authors' PCB_merge (duguodong7/pcb-merging, pcb-merging.py), over the whole flattened task
// vector of every merged tensor at once (d entries per task, T tasks), in float32:
//   a_t   = clamp(|τ_t|, lo_t, hi_t), lo_t / hi_t the ascending ranks int(d·0.0001) and
//           int(d·(1 − 0.0001)) − 1 of |τ_t| (the outliers clipped); c_t = sgn(τ_t)·a_t
//   intra = exp(T·((a_t − lo_t)/(hi_t − lo_t))²)            (self-competition, min-max normalised)
//   inter = tanh(τ_t · Σ_s τ_s)                              (cross-task competition)
//   p_t   = intra · inter
//   s_t   = (max(p_t, q_t) − q_t) / (max p_t − q_t), q_t the ascending rank int(d·(1 − density))
//           of p_t: the top `density` of each task's balancing scores, rescaled to [0, 1]
//   θ     = θ0 + λ · Σ_t w_t c_t s_t / max(Σ_t s_t, 1e-12)
// The reference's per-task coefficients (its `lams`, 1.2 in the paper's runs, tuned by an
// evolutionary search where a validation set exists) are the per-model `weight`s here. Order
// statistics are exact, by radix selection over the order-preserving bit patterns of the float32
// values (two 16-bit histogram passes), streamed: nothing of model size is held. A task whose
// hi = lo (or max p = q) divides by zero in the reference (NaN); here its term is 0. `density`
// may be set per model (the reference has one pcb_ratio).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

#include "core/errors.h"
#include "core/jobs/parallel.h"
#include "core/merge/methods/methods.h"

namespace ms::core::merge {

namespace {

constexpr double kOutlierRatio = 0.0001;  // the reference's clamp(|τ|, min_ratio=0.0001, max_ratio=0.0001)

std::uint32_t orderKey(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
float fromKey(std::uint32_t k) {
    const std::uint32_t u = (k & 0x80000000u) ? (k & 0x7FFFFFFFu) : ~k;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// The chunk's values of every task: out[t] gets c.n floats.
using Values = std::function<void(const ChunkView&, std::vector<std::vector<float>>& out)>;

// Per task t, the values at the 0-based ascending ranks ranks[t][j] of the d values `values`
// gives over the whole model: the top 16 bits of the rank's key from one histogram pass, the low
// 16 bits from a second pass over the elements in that bucket.
std::vector<std::vector<float>> selectRanks(const MergeProblem& problem, const std::vector<std::vector<std::uint64_t>>& ranks,
                                            const Values& values, ProgressSink& progress, const CancelToken* cancel,
                                            const std::string& stage) {
    const std::size_t T = ranks.size();
    const unsigned threads = workerThreads();
    constexpr std::size_t B = 1 << 16;
    std::vector<std::vector<std::uint32_t>> prefix(T);  // chosen top 16 bits per rank
    std::vector<std::vector<std::uint64_t>> below(T);    // elements in lower buckets, per rank
    for (int pass = 0; pass < 2; ++pass) {
        // hist[thread][task][rank (pass 2) or 0][bucket]
        std::vector<std::uint64_t> hist(static_cast<std::size_t>(threads) * T * 2 * B, 0);
        const auto at = [&](unsigned th, std::size_t t, std::size_t r) { return hist.data() + ((th * T + t) * 2 + r) * B; };
        problem.forEachChunk([&](unsigned th, const ChunkView& c) {
            std::vector<std::vector<float>> all(T, std::vector<float>(c.n));
            values(c, all);
            for (std::size_t t = 0; t < T; ++t) {
                const std::vector<float>& v = all[t];
                if (pass == 0) {
                    std::uint64_t* h = at(th, t, 0);
                    for (float x : v) ++h[orderKey(x) >> 16];
                } else {
                    for (std::size_t r = 0; r < ranks[t].size(); ++r) {
                        std::uint64_t* h = at(th, t, r);
                        for (float x : v) {
                            const std::uint32_t k = orderKey(x);
                            if ((k >> 16) == prefix[t][r]) ++h[k & 0xFFFFu];
                        }
                    }
                }
            }
        }, progress, cancel, stage);
        for (std::size_t t = 0; t < T; ++t) {
            if (pass == 0) {
                prefix[t].assign(ranks[t].size(), 0);
                below[t].assign(ranks[t].size(), 0);
            }
            for (std::size_t r = 0; r < ranks[t].size(); ++r) {
                std::uint64_t seen = pass == 0 ? 0 : below[t][r];
                const std::size_t histRank = pass == 0 ? 0 : r;
                for (std::size_t b = 0; b < B; ++b) {
                    std::uint64_t n = 0;
                    for (unsigned th = 0; th < threads; ++th) n += at(th, t, histRank)[b];
                    if (seen + n > ranks[t][r]) {
                        if (pass == 0) {
                            prefix[t][r] = static_cast<std::uint32_t>(b);
                            below[t][r] = seen;
                        } else {
                            prefix[t][r] = (prefix[t][r] << 16) | static_cast<std::uint32_t>(b);
                        }
                        break;
                    }
                    seen += n;
                }
            }
        }
    }
    std::vector<std::vector<float>> out(T);
    for (std::size_t t = 0; t < T; ++t)
        for (std::uint32_t key : prefix[t]) out[t].push_back(fromKey(key));
    return out;
}

struct PcbPrepared : PreparedState {
    std::vector<float> lo, hi, q, pmax;
};

// The balancing scores p_t of the chunk's elements for every task (needs lo/hi); Σ_s τ_s once.
void balancing(const ChunkView& c, const PcbPrepared& p, std::vector<std::vector<float>>& out) {
    const std::size_t T = c.experts.size();
    std::vector<float> sum(c.n, 0.0f);
    for (std::size_t s = 0; s < T; ++s)
        for (std::size_t i = 0; i < c.n; ++i) sum[i] += c.experts[s][i] - c.base[i];
    const float n = static_cast<float>(T);
    for (std::size_t t = 0; t < T; ++t) {
        const float lo = p.lo[t], range = p.hi[t] - p.lo[t];
        for (std::size_t i = 0; i < c.n; ++i) {
            const float tau = c.experts[t][i] - c.base[i];
            const float a = std::clamp(std::fabs(tau), p.lo[t], p.hi[t]);
            const float norm = range > 0 ? (a - lo) / range : 0.0f;
            out[t][i] = std::exp(n * (norm * norm)) * std::tanh(tau * sum[i]);
        }
    }
}

class PcbMerge final : public MergeMethod {
public:
    PcbMerge() {
        m_info.name = "pcb";
        m_info.summary = "intra- × inter-task balancing scores, the top density of each task kept and rescaled (PCB, Du et al. 2024)";
        ParamSpec density = densityParam(0.1, true, "the share of each task vector's entries kept by their balancing score (pcb_ratio)");
        m_info.params = {lambdaParam(), weightParam(), density};
        m_info.linearInLambda = true;
    }
    const MethodInfo& info() const override { return m_info; }

    std::shared_ptr<const PreparedState> prepare(const MergeProblem& problem, const MethodArgs& args, ProgressSink& progress,
                                                 const CancelToken* cancel) const override {
        const std::size_t T = problem.taskCount();
        const std::uint64_t d = problem.plan().mergedElements;
        if (d == 0) throw InvalidArgument("pcb: no tensor to merge");
        auto p = std::make_shared<PcbPrepared>();
        // The reference's int(d·ratio) and int(d·(1 − ratio)) − 1, in double as Python computes them.
        const auto rank = [&](double f) { return std::min<std::uint64_t>(d - 1, static_cast<std::uint64_t>(static_cast<double>(d) * f)); };
        const std::uint64_t loRank = rank(kOutlierRatio);
        const std::uint64_t hiRank = static_cast<std::uint64_t>(static_cast<double>(d) * (1.0 - kOutlierRatio)) - 1;
        const auto mags = selectRanks(problem, std::vector<std::vector<std::uint64_t>>(T, {loRank, std::min(hiRank, d - 1)}),
                                      [](const ChunkView& c, std::vector<std::vector<float>>& out) {
                                          for (std::size_t t = 0; t < out.size(); ++t)
                                              for (std::size_t i = 0; i < c.n; ++i) out[t][i] = std::fabs(c.experts[t][i] - c.base[i]);
                                      }, progress, cancel, "PCB: outlier ranks");
        for (std::size_t t = 0; t < T; ++t) {
            p->lo.push_back(mags[t][0]);
            p->hi.push_back(mags[t][1]);
        }
        std::vector<std::vector<std::uint64_t>> scoreRanks;
        for (std::size_t t = 0; t < T; ++t) scoreRanks.push_back({rank(1.0 - args.number("density", static_cast<int>(t))), d - 1});
        const auto scores = selectRanks(problem, scoreRanks,
                                        [&](const ChunkView& c, std::vector<std::vector<float>>& out) { balancing(c, *p, out); }, progress,
                                        cancel, "PCB: balancing ranks");
        for (std::size_t t = 0; t < T; ++t) {
            p->q.push_back(scores[t][0]);
            p->pmax.push_back(scores[t][1]);
        }
        return p;
    }

    void apply(const MergeProblem&, const PreparedState* prepared, const MethodArgs&, const Coefficients& k, const ChunkView& c,
               float* out) const override {
        const auto& p = *static_cast<const PcbPrepared*>(prepared);
        const std::size_t T = c.experts.size();
        std::vector<float> num(c.n, 0.0f), den(c.n, 0.0f);
        std::vector<std::vector<float>> scores(T, std::vector<float>(c.n));
        balancing(c, p, scores);
        for (std::size_t t = 0; t < T; ++t) {
            const std::vector<float>& score = scores[t];
            const float q = p.q[t], range = p.pmax[t] - p.q[t];
            const float w = static_cast<float>(k.weights[t]);
            for (std::size_t i = 0; i < c.n; ++i) {
                const float s = range > 0 ? (std::max(score[i], q) - q) / range : 0.0f;
                const float tau = c.experts[t][i] - c.base[i];
                const float clamped = tau == 0.0f ? 0.0f : std::copysign(std::clamp(std::fabs(tau), p.lo[t], p.hi[t]), tau);
                num[i] += (w * clamped) * s;
                den[i] += s;
            }
        }
        const float lambda = static_cast<float>(k.lambda);
        for (std::size_t i = 0; i < c.n; ++i) out[i] = base0(c, i, k) + lambda * (num[i] / std::max(den[i], 1e-12f));
    }

private:
    MethodInfo m_info;
};

}  // namespace

void addPcbMethods(std::vector<std::unique_ptr<MergeMethod>>& out) { out.push_back(std::make_unique<PcbMerge>()); }

}  // namespace ms::core::merge
