// The "generalized task arithmetic" family: each task vector is sparsified (none, top-k by
// magnitude, DARE's random drop-and-rescale, Breadcrumbs' per-row outlier band), weighted, then
// either summed (task arithmetic) or combined by sign consensus (TIES: elect a sign per
// coordinate, keep the entries that agree, take their weighted mean or sum). θ = θ0 + λ·τ_m.
// Semantics follow the official TIES code (global top-k, majority sign for exact ties) and
// mergekit's handling of weights (sign elected on weighted entries; the mean divides by the
// weights of the agreeing entries).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <atomic>
#include <mutex>
#include <optional>

#include "core/jobs/parallel.h"

#include "core/merge/methods/methods.h"
#include "core/merge/topk_selection.h"

namespace ms::core::merge {

namespace {

enum class Sparsify { None, Magnitude, Random, Outliers };

struct GtaConfig {
    std::string name;
    std::string summary;
    Sparsify sparsify = Sparsify::None;
    bool consensus = false;
    std::string defaultDisjoint = "mean";
    double defaultDensity = 1.0;
};

struct GtaPrepared : PreparedState {
    std::optional<TopKThresholds> topk;
    // The official code breaks exact ties of the elected sign with the majority of all elected
    // signs. Only a coordinate whose weighted sum is exactly 0 while some entry is not needs it —
    // rare with real weights — so it is computed (one extra pass) the first time such a
    // coordinate is met, before any value depending on it is written.
    mutable std::once_flag majorityOnce;
    mutable float majority = 0.0f;
    mutable std::atomic<bool> majorityKnown{false};
    // The sign a tie takes: the majority when known (a sign of 0 acts as −1, as the official
    // code's torch.where(sign > 0, τ > 0, τ < 0) keeps the negative entries).
    float tieSign() const {
        return majorityKnown.load(std::memory_order_acquire) && majority > 0 ? 1.0f : -1.0f;
    }
};

// The fused kernel of magnitude-trimmed methods (ties, magnitude): one loop over the chunk with
// the task count known at compile time, so that GCC keeps v[] in registers and vectorises.
constexpr int kMaxFusedTasks = 8;
struct FusedArgs {
    const float* base;
    const float* ex[kMaxFusedTasks];
    float thr[kMaxFusedTasks];
    bool all[kMaxFusedTasks];
    float w[kMaxFusedTasks];
    float lambda;
    float tieSign;
    bool addBase;
};

// Returns whether a coordinate had an exactly-zero elected sum with a non-zero entry (a tie).
// 4 float lanes (SSE2, the x86-64 baseline; NEON on Arm) with GCC/Clang vector extensions: every operation is lane-wise IEEE in the same
// order as the scalar code below, so both give bit-identical results; selects are bit masks, so
// the random keep/drop pattern of trimming costs no branch mispredictions.
typedef float Vf __attribute__((vector_size(16)));
typedef std::int32_t Vi __attribute__((vector_size(16)));
constexpr int kLanes = 4;

inline Vf loadV(const float* p) {
    Vf v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline Vf selectV(Vi mask, Vf a, Vf b) { return (Vf)((mask & (Vi)a) | (~mask & (Vi)b)); }
inline Vf splat(float x) { return Vf{} + x; }

template <int N, bool Consensus, bool Mean>
bool fusedMagnitude(const FusedArgs& a, std::size_t n, float* out) {
    const float baseScale = a.addBase ? 1.0f : 0.0f;
    float thr[N];
    for (int t = 0; t < N; ++t) thr[t] = a.all[t] ? -1.0f : a.thr[t];  // -1: keep everything
    const Vi absMask = Vi{} + 0x7fffffff;
    Vi tieLanes = Vi{};
    std::size_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        const Vf b = loadV(a.base + i);
        Vf v[N];
        Vf s = Vf{};
        for (int t = 0; t < N; ++t) {
            const Vf tau = loadV(a.ex[t] + i) - b;
            const Vi keep = (Vf)((Vi)tau & absMask) >= splat(thr[t]);
            v[t] = selectV(keep, splat(a.w[t]) * tau, Vf{});
            s += v[t];
        }
        Vf merged = s;
        if constexpr (Consensus) {
            const Vi zero = s == Vf{};
            const Vf sign = selectV(zero, splat(a.tieSign), selectV(s > Vf{}, splat(1.0f), splat(-1.0f)));
            Vf total = Vf{}, div = Vf{};
            for (int t = 0; t < N; ++t) {
                const Vi agree = v[t] * sign > Vf{};
                total += selectV(agree, v[t], Vf{});
                div += selectV(agree, splat(a.w[t]), Vf{});
                tieLanes |= zero & (v[t] != Vf{});
            }
            if constexpr (Mean) merged = total / selectV(div == Vf{}, splat(1.0f), div);
            else merged = total;
        }
        const Vf r = splat(baseScale) * b + splat(a.lambda) * merged;
        std::memcpy(out + i, &r, sizeof r);
    }
    bool tie = false;
    for (int l = 0; l < kLanes; ++l) tie |= tieLanes[l] != 0;
    for (; i < n; ++i) {  // the tail, scalar, same arithmetic
        const float b = a.base[i];
        float v[N];
        float s = 0;
        for (int t = 0; t < N; ++t) {
            const float tau = a.ex[t][i] - b;
            v[t] = std::fabs(tau) >= thr[t] ? a.w[t] * tau : 0.0f;
            s += v[t];
        }
        float merged = s;
        if constexpr (Consensus) {
            const float sign = s == 0 ? a.tieSign : (s > 0 ? 1.0f : -1.0f);
            float total = 0, div = 0;
            for (int t = 0; t < N; ++t) {
                const bool agree = v[t] * sign > 0;
                total += agree ? v[t] : 0.0f;
                div += agree ? a.w[t] : 0.0f;
                tie |= s == 0 && v[t] != 0;
            }
            merged = Mean ? total / (div == 0 ? 1.0f : div) : total;
        }
        out[i] = baseScale * b + a.lambda * merged;
    }
    return tie;
}

template <int N>
bool fusedMagnitudeFor(bool consensus, bool mean, const FusedArgs& a, std::size_t n, float* out) {
    if (!consensus) return fusedMagnitude<N, false, false>(a, n, out);
    return mean ? fusedMagnitude<N, true, true>(a, n, out) : fusedMagnitude<N, true, false>(a, n, out);
}

bool runFused(int tasks, bool consensus, bool mean, const FusedArgs& a, std::size_t n, float* out) {
    switch (tasks) {
        case 1: return fusedMagnitudeFor<1>(consensus, mean, a, n, out);
        case 2: return fusedMagnitudeFor<2>(consensus, mean, a, n, out);
        case 3: return fusedMagnitudeFor<3>(consensus, mean, a, n, out);
        case 4: return fusedMagnitudeFor<4>(consensus, mean, a, n, out);
        case 5: return fusedMagnitudeFor<5>(consensus, mean, a, n, out);
        case 6: return fusedMagnitudeFor<6>(consensus, mean, a, n, out);
        case 7: return fusedMagnitudeFor<7>(consensus, mean, a, n, out);
        default: return fusedMagnitudeFor<8>(consensus, mean, a, n, out);
    }
}

// DARE's keep decision for one element: a counter-based hash of (seed, task, tensor, index), so
// masks are reproducible from the seed and independent of chunking and threads.
inline bool dareKeep(std::uint64_t seed, std::size_t task, std::uint64_t nameHash, std::uint64_t index,
                     double density) {
    std::uint64_t z = seed * 0x9E3779B97F4A7C15ull ^ (task + 1) * 0xD1B54A32D192ED03ull ^ nameHash ^
                      (index * 0xBF58476D1CE4E5B9ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const double u = static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
    return u < density;
}

// Breadcrumbs: in each row, sort |τ| ascending (stable), drop the largest ⌊γ·L⌋ (outliers) and
// the smallest, keeping the ⌊β·L⌋ entries below the outliers.
void outlierMask(const float* base, const float* expert, std::size_t rowLen, double density, double gamma,
                 std::vector<std::uint32_t>& order, std::uint8_t* keep) {
    order.resize(rowLen);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
        return std::fabs(expert[a] - base[a]) < std::fabs(expert[b] - base[b]);
    });
    const auto L = static_cast<std::int64_t>(rowLen);
    const auto target = static_cast<std::int64_t>(static_cast<double>(L) * density);
    auto top = static_cast<std::int64_t>(static_cast<double>(L) * gamma);
    auto bottom = L - target - top;
    if (bottom < 0) {
        bottom = 0;
        top = L - target;
    }
    std::fill(keep, keep + rowLen, 0);
    for (std::int64_t r = bottom; r < L - top; ++r) keep[order[static_cast<std::size_t>(r)]] = 1;
}

class GtaMerge final : public MergeMethod {
public:
    explicit GtaMerge(GtaConfig c) : m_config(std::move(c)) {
        m_info.name = m_config.name;
        m_info.summary = m_config.summary;
        m_info.params = {lambdaParam(), weightParam()};
        m_info.linearInLambda = true;
        const bool magnitude = m_config.sparsify == Sparsify::Magnitude;
        const bool random = m_config.sparsify == Sparsify::Random;
        if (magnitude)
            m_info.params.push_back(densityParam(m_config.defaultDensity, true,
                                                 "fraction of each task vector kept, by magnitude (TIES k)"));
        if (random)
            m_info.params.push_back(densityParam(m_config.defaultDensity, m_config.consensus,
                                                 "DARE keep probability; survivors are rescaled by 1/density"));
        if (m_config.sparsify == Sparsify::Outliers) {
            m_info.params.push_back(densityParam(m_config.defaultDensity, false,
                                                 "β: fraction of each row kept below the outliers"));
            m_info.params.push_back(numberParam("gamma", 0.01, 0, 1,
                                                "γ: fraction of each row's largest |τ| dropped as outliers", true));
        }
        if (magnitude) m_info.params.push_back(topkScopeParam());
        if (random) m_info.params.push_back(seedParam(m_config.consensus));
        if (m_config.consensus) m_info.params.push_back(disjointParam(m_config.defaultDisjoint));
    }

    const MethodInfo& info() const override { return m_info; }

    std::shared_ptr<const PreparedState> prepare(const MergeProblem& problem, const MethodArgs& args,
                                                 ProgressSink& progress, const CancelToken* cancel) const override {
        auto p = std::make_shared<GtaPrepared>();
        if (m_config.sparsify == Sparsify::Magnitude)
            p->topk = selectTopK(problem, args.perModelNumbers("density"),
                                 args.choice("topk_scope") == "per_tensor" ? TopKScope::PerTensor : TopKScope::Global,
                                 progress, cancel);
        return p;
    }

    void apply(const MergeProblem& problem, const PreparedState* prepared, const MethodArgs& args,
               const Coefficients& k, const ChunkView& c, float* out) const override {
        const std::size_t T = problem.taskCount();
        const auto* p = static_cast<const GtaPrepared*>(prepared);
        if (m_config.sparsify == Sparsify::None && !m_config.consensus) {
            applyLinear(k, c, out);
            return;
        }
        const bool mean = m_config.consensus && args.choice("disjoint") == "mean";
        if (m_config.sparsify == Sparsify::Magnitude && T <= static_cast<std::size_t>(kMaxFusedTasks)) {
            const std::size_t ti = static_cast<std::size_t>(c.tensor - problem.plan().merged.data());
            FusedArgs a{};
            a.base = c.base;
            for (std::size_t t = 0; t < T; ++t) {
                a.ex[t] = c.experts[t];
                a.thr[t] = p->topk->threshold(t, ti);
                a.all[t] = p->topk->keepAll(t);
                a.w[t] = static_cast<float>(k.weights[t]);
            }
            a.lambda = static_cast<float>(k.lambda);
            a.addBase = k.addBase;
            const bool known = p->majorityKnown.load(std::memory_order_acquire);
            a.tieSign = p->tieSign();
            const bool tie = runFused(static_cast<int>(T), m_config.consensus, mean, a, c.n, out);
            if (tie && !known) {  // rare: settle the majority sign, then redo this chunk with it
                ensureMajority(problem, args, *p);
                a.tieSign = p->tieSign();
                runFused(static_cast<int>(T), m_config.consensus, mean, a, c.n, out);
            }
            return;
        }
        thread_local std::vector<float> trimmed;  // [t][i] weighted, sparsified task vectors
        trimmed.resize(T * c.n);
        sparsifyChunk(problem, p, args, k, c, trimmed.data());
        const float lambda = static_cast<float>(k.lambda);
        if (!m_config.consensus) {
            for (std::size_t i = 0; i < c.n; ++i) {
                float s = 0;
                for (std::size_t t = 0; t < T; ++t) s += trimmed[t * c.n + i];
                out[i] = base0(c, i, k) + lambda * s;
            }
            return;
        }
        thread_local std::vector<float> sum, sign, total, div;
        sum.assign(c.n, 0.0f);
        for (std::size_t t = 0; t < T; ++t) {
            const float* v = trimmed.data() + t * c.n;
            for (std::size_t i = 0; i < c.n; ++i) sum[i] += v[i];
        }
        bool tie = false;
        for (std::size_t i = 0; i < c.n && !tie; ++i)
            if (sum[i] == 0)
                for (std::size_t t = 0; t < T; ++t) tie |= trimmed[t * c.n + i] != 0;
        if (tie) ensureMajority(problem, args, *p);
        const float tieSign = p->tieSign();
        sign.resize(c.n);
        for (std::size_t i = 0; i < c.n; ++i) sign[i] = sum[i] > 0 ? 1.0f : sum[i] < 0 ? -1.0f : tieSign;
        total.assign(c.n, 0.0f);
        div.assign(c.n, 0.0f);
        for (std::size_t t = 0; t < T; ++t) {
            const float* v = trimmed.data() + t * c.n;
            const float w = static_cast<float>(k.weights[t]);
            for (std::size_t i = 0; i < c.n; ++i) {
                const bool agree = v[i] * sign[i] > 0;
                total[i] += agree ? v[i] : 0.0f;
                div[i] += agree ? w : 0.0f;
            }
        }
        for (std::size_t i = 0; i < c.n; ++i) {
            const float merged = mean ? total[i] / (div[i] == 0 ? 1.0f : div[i]) : total[i];
            out[i] = base0(c, i, k) + lambda * merged;
        }
    }

private:
    static void applyLinear(const Coefficients& k, const ChunkView& c, float* out) {
        thread_local std::vector<float> acc;
        acc.assign(c.n, 0.0f);
        for (std::size_t t = 0; t < c.experts.size(); ++t) {
            const float w = static_cast<float>(k.weights[t]);
            const float* e = c.experts[t];
            for (std::size_t i = 0; i < c.n; ++i) acc[i] += w * (e[i] - c.base[i]);
        }
        const float lambda = static_cast<float>(k.lambda);
        for (std::size_t i = 0; i < c.n; ++i) out[i] = base0(c, i, k) + lambda * acc[i];
    }

    // Writes w_t · sparsify(τ_t) for every task into dst[t * n + i].
    void sparsifyChunk(const MergeProblem& problem, const GtaPrepared* p, const MethodArgs& args,
                       const Coefficients& k, const ChunkView& c, float* dst) const {
        const std::size_t T = problem.taskCount();
        const std::size_t ti = static_cast<std::size_t>(&*c.tensor - problem.plan().merged.data());
        thread_local std::vector<std::uint8_t> keep;
        thread_local std::vector<std::uint32_t> order;
        for (std::size_t t = 0; t < T; ++t) {
            const float w = static_cast<float>(k.weights.empty() ? 1.0 : k.weights[t]);
            const float* e = c.experts[t];
            float* d = dst + t * c.n;
            switch (m_config.sparsify) {
                case Sparsify::None:
                    for (std::size_t i = 0; i < c.n; ++i) d[i] = w * (e[i] - c.base[i]);
                    break;
                case Sparsify::Magnitude: {
                    const bool all = p->topk->keepAll(t);
                    const float thr = p->topk->threshold(t, ti);
                    for (std::size_t i = 0; i < c.n; ++i) {
                        const float tau = e[i] - c.base[i];
                        d[i] = (all || std::fabs(tau) >= thr) ? w * tau : 0.0f;
                    }
                    break;
                }
                case Sparsify::Random: {
                    const double density = args.number("density", static_cast<int>(t));
                    const auto seed = static_cast<std::uint64_t>(args.number("seed"));
                    const float fdensity = static_cast<float>(density);
                    for (std::size_t i = 0; i < c.n; ++i) {
                        const float tau = e[i] - c.base[i];
                        d[i] = dareKeep(seed, t, c.tensor->nameHash, c.begin + i, density) ? w * (tau / fdensity) : 0.0f;
                    }
                    break;
                }
                case Sparsify::Outliers: {
                    const double density = args.number("density", static_cast<int>(t));
                    const double gamma = args.number("gamma", static_cast<int>(t));
                    const std::size_t L = static_cast<std::size_t>(c.tensor->rowLength);
                    keep.resize(c.n);
                    for (std::size_t r = 0; r < c.n; r += L)
                        outlierMask(c.base + r, e + r, std::min(L, c.n - r), density, gamma, order, keep.data() + r);
                    for (std::size_t i = 0; i < c.n; ++i) d[i] = keep[i] ? w * (e[i] - c.base[i]) : 0.0f;
                    break;
                }
            }
        }
    }

    // The official TIES code resolves coordinates whose summed sign is exactly 0 with the sign of
    // the sum of all elected signs. Computed once, with unit weights, in prepare.
    void ensureMajority(const MergeProblem& problem, const MethodArgs& args, const GtaPrepared& p) const {
        std::call_once(p.majorityOnce, [&] {
            p.majority = majoritySign(problem, args, p);
            p.majorityKnown.store(true, std::memory_order_release);
        });
    }

    float majoritySign(const MergeProblem& problem, const MethodArgs& args, const GtaPrepared& p) const {
        std::vector<std::int64_t> votes(workerThreads(), 0);
        Coefficients unit;
        unit.weights.assign(problem.taskCount(), 1.0);
        const std::size_t T = problem.taskCount();
        const bool fused = m_config.sparsify == Sparsify::Magnitude && T <= static_cast<std::size_t>(kMaxFusedTasks);
        problem.forEachChunk([&](unsigned th, const ChunkView& c) {
            thread_local std::vector<float> sums;
            sums.resize(c.n);
            if (fused) {  // the unweighted sums of the trimmed entries, by the same kernel
                FusedArgs a{};
                a.base = c.base;
                const std::size_t ti = static_cast<std::size_t>(c.tensor - problem.plan().merged.data());
                for (std::size_t t = 0; t < T; ++t) {
                    a.ex[t] = c.experts[t];
                    a.thr[t] = p.topk->threshold(t, ti);
                    a.all[t] = p.topk->keepAll(t);
                    a.w[t] = 1.0f;
                }
                a.lambda = 1.0f;
                a.addBase = false;
                runFused(static_cast<int>(T), false, false, a, c.n, sums.data());
            } else {
                thread_local std::vector<float> trimmed;
                trimmed.resize(T * c.n);
                sparsifyChunk(problem, &p, args, unit, c, trimmed.data());
                std::fill(sums.begin(), sums.end(), 0.0f);
                for (std::size_t t = 0; t < T; ++t)
                    for (std::size_t i = 0; i < c.n; ++i) sums[i] += trimmed[t * c.n + i];
            }
            std::int64_t v = 0;
            for (std::size_t i = 0; i < c.n; ++i) v += (sums[i] > 0) - (sums[i] < 0);
            votes[th] += v;
        }, nullProgress(), nullptr, "electing signs");
        const std::int64_t total = std::accumulate(votes.begin(), votes.end(), std::int64_t{0});
        return total > 0 ? 1.0f : total < 0 ? -1.0f : 0.0f;
    }

    GtaConfig m_config;
    MethodInfo m_info;
};

}  // namespace

void addGtaMethods(std::vector<std::unique_ptr<MergeMethod>>& out) {
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "task_arithmetic", "θ0 + λ Σ w_t τ_t (Ilharco et al. 2023)", Sparsify::None, false, "mean", 1.0}));
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "ties", "trim each τ_t to its top-k, elect signs, disjoint mean (Yadav et al. 2023)",
        Sparsify::Magnitude, true, "mean", 0.2}));
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "dare_linear", "drop τ_t entries at random, rescale by 1/density, then task arithmetic (Yu et al. 2024)",
        Sparsify::Random, false, "mean", 0.5}));
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "dare_ties", "DARE drop-and-rescale, then TIES sign election (disjoint sum, as mergekit)",
        Sparsify::Random, true, "sum", 0.5}));
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "magnitude", "keep the top-k of each τ_t by magnitude, then task arithmetic",
        Sparsify::Magnitude, false, "mean", 0.2}));
    out.push_back(std::make_unique<GtaMerge>(GtaConfig{
        "breadcrumbs", "per row, drop the γ largest |τ| and keep the next β, then task arithmetic "
        "(Davari & Belilovsky 2024)", Sparsify::Outliers, false, "mean", 0.9}));
}

}  // namespace ms::core::merge
