// The "generalized task arithmetic" family: each task vector is sparsified (none, top-k by
// magnitude, DARE's random drop-and-rescale, Breadcrumbs' per-row outlier band), weighted, then
// either summed (task arithmetic) or combined by sign consensus (TIES: elect a sign per
// coordinate, keep the entries that agree, take their weighted mean or sum). θ = θ0 + λ·τ_m.
// Semantics follow the official TIES code (global top-k, majority sign for exact ties) and
// mergekit's handling of weights (sign elected on weighted entries; the mean divides by the
// weights of the agreeing entries).
#include <algorithm>
#include <cmath>
#include <numeric>
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
    float majoritySign = 1.0f;  // breaks exact ties of the elected sign
};

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
            ParamSpec g;
            g.name = "gamma";
            g.defaultNumber = 0.01;
            g.min = 0;
            g.max = 1;
            g.perModel = true;
            g.help = "γ: fraction of each row's largest |τ| dropped as outliers";
            m_info.params.push_back(g);
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
        if (m_config.consensus) p->majoritySign = majoritySign(problem, args, *p, progress, cancel);
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
        thread_local std::vector<float> trimmed;  // [t][i] weighted, sparsified task vectors
        trimmed.resize(T * c.n);
        sparsifyChunk(problem, p, args, k, c, trimmed.data());
        const float lambda = static_cast<float>(k.lambda);
        if (!m_config.consensus) {
            for (std::size_t i = 0; i < c.n; ++i) {
                float s = 0;
                for (std::size_t t = 0; t < T; ++t) s += trimmed[t * c.n + i];
                out[i] = c.base[i] + lambda * s;
            }
            return;
        }
        const bool mean = args.choice("disjoint") == "mean";
        for (std::size_t i = 0; i < c.n; ++i) {
            float s = 0;
            for (std::size_t t = 0; t < T; ++t) s += trimmed[t * c.n + i];
            const float sign = s > 0 ? 1.0f : s < 0 ? -1.0f : p->majoritySign;
            float sum = 0, div = 0;
            for (std::size_t t = 0; t < T; ++t) {
                const float v = trimmed[t * c.n + i];
                // As the official code's torch.where(sign > 0, τ > 0, τ < 0): a sign of 0 (a tie
                // that even the majority vote could not break) keeps the negative entries.
                if (sign > 0 ? v > 0 : v < 0) {
                    sum += v;
                    div += static_cast<float>(k.weights[t]);
                }
            }
            const float merged = mean ? sum / (div == 0 ? 1.0f : div) : sum;
            out[i] = c.base[i] + lambda * merged;
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
        for (std::size_t i = 0; i < c.n; ++i) out[i] = c.base[i] + lambda * acc[i];
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
    float majoritySign(const MergeProblem& problem, const MethodArgs& args, const GtaPrepared& p,
                       ProgressSink& progress, const CancelToken* cancel) const {
        std::vector<std::int64_t> votes(workerThreads(), 0);
        Coefficients unit;
        unit.weights.assign(problem.taskCount(), 1.0);
        problem.forEachChunk([&](unsigned th, const ChunkView& c) {
            thread_local std::vector<float> trimmed;
            trimmed.resize(problem.taskCount() * c.n);
            sparsifyChunk(problem, &p, args, unit, c, trimmed.data());
            std::int64_t v = 0;
            for (std::size_t i = 0; i < c.n; ++i) {
                float s = 0;
                for (std::size_t t = 0; t < problem.taskCount(); ++t) s += trimmed[t * c.n + i];
                v += (s > 0) - (s < 0);
            }
            votes[th] += v;
        }, progress, cancel, "electing signs");
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
