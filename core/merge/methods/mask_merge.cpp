// Methods built on per-task masks: TALL masks and Consensus merging (Wang et al. 2024) and EMR
// (Huang et al. 2024). TALL and EMR produce one model per task (Coefficients::task).
//   τ_MTL = Σ w_t τ_t;  m_t = [|τ_t| > λ_t |τ_MTL − τ_t|]
//   tall_masks, task t:  θ0 + λ (m_t ⊙ τ_MTL)
//   consensus:           θ0 + λ (τ_MTL ⊙ [Σ_t m_t ≥ k])
//   emr, task t:         γ = sgn⁺(Σ τ_t) (+1 when > 0, else −1, as the official code);
//                        τ_uni = γ ⊙ max_t(|τ_t| where τ_t γ > 0);  M_t = [τ_t γ > 0];
//                        r_t = Σ|τ_t| / Σ|M_t ⊙ τ_uni|;  θ0 + λ r_t (M_t ⊙ τ_uni)
#include <cmath>
#include <numeric>

#include "core/errors.h"
#include "core/jobs/parallel.h"
#include "core/merge/methods/methods.h"

namespace ms::core::merge {

namespace {

ParamSpec tallLambdaParam() {
    return numberParam("tall_lambda", 0.4, 0, 100,
                       "TALL mask threshold λ_t: keep τ_t where |τ_t| > λ_t |τ_MTL − τ_t| (paper: 0.2..0.6)", true);
}

void mtlAndMasks(const MethodArgs& args, const Coefficients& k, const ChunkView& c, std::size_t i,
                 float& mtl, std::uint32_t& maskBits) {
    const std::size_t T = c.experts.size();
    mtl = 0;
    for (std::size_t t = 0; t < T; ++t) mtl += static_cast<float>(k.weights[t]) * (c.experts[t][i] - c.base[i]);
    maskBits = 0;
    for (std::size_t t = 0; t < T; ++t) {
        const float tau = c.experts[t][i] - c.base[i];
        const float lt = static_cast<float>(args.number("tall_lambda", static_cast<int>(t)));
        if (std::fabs(tau) > lt * std::fabs(mtl - tau)) maskBits |= 1u << t;
    }
}

class TallMasks final : public MergeMethod {
public:
    explicit TallMasks(bool consensus) : m_consensus(consensus) {
        m_info.name = consensus ? "consensus" : "tall_masks";
        m_info.summary = consensus ? "keep τ_MTL where at least k tasks' TALL masks agree (Wang et al. 2024)"
                                   : "one model per task: θ0 + m_t ⊙ τ_MTL with TALL masks (Wang et al. 2024)";
        m_info.perTaskOutputs = !consensus;
        m_info.maxModels = 32;
        m_info.params = {lambdaParam(), weightParam(), tallLambdaParam()};
        m_info.linearInLambda = true;
        if (consensus) {
            m_info.params.push_back(integerParam("min_tasks", 2, 0, 32,
                                                 "keep a coordinate when at least this many tasks' masks select it"));
        }
    }
    const MethodInfo& info() const override { return m_info; }

    void apply(const MergeProblem&, const PreparedState*, const MethodArgs& args, const Coefficients& k,
               const ChunkView& c, float* out) const override {
        const float lambda = static_cast<float>(k.lambda);
        const int minTasks = m_consensus ? static_cast<int>(args.number("min_tasks")) : 0;
        if (!m_consensus && (k.task < 0 || static_cast<std::size_t>(k.task) >= c.experts.size()))
            throw InvalidArgument("tall_masks makes one model per task: choose the task");
        for (std::size_t i = 0; i < c.n; ++i) {
            float mtl;
            std::uint32_t bits;
            mtlAndMasks(args, k, c, i, mtl, bits);
            const bool keep = m_consensus ? __builtin_popcount(bits) >= minTasks : ((bits >> k.task) & 1u) != 0;
            out[i] = base0(c, i, k) + lambda * (keep ? mtl : 0.0f);
        }
    }

private:
    bool m_consensus;
    MethodInfo m_info;
};

struct EmrPrepared : PreparedState {
    std::vector<double> rescale;  // r_t
};

inline void emrElect(const ChunkView& c, std::size_t i, float& gamma, float& uni) {
    float s = 0;
    for (const float* e : c.experts) s += e[i] - c.base[i];
    gamma = s > 0 ? 1.0f : -1.0f;
    uni = 0;
    for (const float* e : c.experts) {
        const float tau = e[i] - c.base[i];
        if (tau * gamma > 0) uni = std::max(uni, std::fabs(tau));
    }
}

class EmrMerge final : public MergeMethod {
public:
    EmrMerge() {
        m_info.name = "emr";
        m_info.summary = "one model per task from a unified task vector, masks and rescalers (Huang et al. 2024)";
        m_info.perTaskOutputs = true;
        m_info.params = {lambdaParam()};
        m_info.linearInLambda = true;
    }
    const MethodInfo& info() const override { return m_info; }

    std::shared_ptr<const PreparedState> prepare(const MergeProblem& problem, const MethodArgs&, ProgressSink& progress,
                                                 const CancelToken* cancel) const override {
        const std::size_t T = problem.taskCount();
        const unsigned threads = workerThreads();
        std::vector<double> num(threads * T, 0.0), den(threads * T, 0.0);
        problem.forEachChunk([&](unsigned th, const ChunkView& c) {
            for (std::size_t i = 0; i < c.n; ++i) {
                float gamma, uni;
                emrElect(c, i, gamma, uni);
                for (std::size_t t = 0; t < T; ++t) {
                    const float tau = c.experts[t][i] - c.base[i];
                    num[th * T + t] += std::fabs(tau);
                    if (tau * gamma > 0) den[th * T + t] += uni;
                }
            }
        }, progress, cancel, "EMR rescalers");
        auto p = std::make_shared<EmrPrepared>();
        for (std::size_t t = 0; t < T; ++t) {
            double n = 0, d = 0;
            for (unsigned th = 0; th < threads; ++th) {
                n += num[th * T + t];
                d += den[th * T + t];
            }
            p->rescale.push_back(d > 0 ? n / d : 0.0);
        }
        return p;
    }

    void apply(const MergeProblem&, const PreparedState* prepared, const MethodArgs&, const Coefficients& k,
               const ChunkView& c, float* out) const override {
        if (k.task < 0 || static_cast<std::size_t>(k.task) >= c.experts.size())
            throw InvalidArgument("emr makes one model per task: choose the task");
        const auto* p = static_cast<const EmrPrepared*>(prepared);
        const float scale = static_cast<float>(k.lambda * p->rescale[static_cast<std::size_t>(k.task)]);
        const float* mine = c.experts[static_cast<std::size_t>(k.task)];
        for (std::size_t i = 0; i < c.n; ++i) {
            float gamma, uni;
            emrElect(c, i, gamma, uni);
            const bool m = (mine[i] - c.base[i]) * gamma > 0;
            out[i] = base0(c, i, k) + (m ? scale * (gamma * uni) : 0.0f);
        }
    }

private:
    MethodInfo m_info;
};

// MagMax (Marczak et al., ECCV 2024): per element, the task-vector entry of largest magnitude,
// θ = θ0 + λ·τ_max. With weights, the entries are w_t·τ_t (all 1 in the paper). An exact tie in
// magnitude keeps the first task's entry, as torch's argmax in the reference code does.
class MagMax final : public MergeMethod {
public:
    MagMax() {
        m_info.name = "magmax";
        m_info.summary = "per element the task-vector entry of largest magnitude, θ0 + λ·τ_max (MagMax, Marczak et al. 2024)";
        ParamSpec lambda = lambdaParam();
        lambda.defaultNumber = 0.5;  // the paper's
        m_info.params = {lambda, weightParam()};
        m_info.linearInLambda = true;
    }
    const MethodInfo& info() const override { return m_info; }
    void apply(const MergeProblem&, const PreparedState*, const MethodArgs&, const Coefficients& k, const ChunkView& c,
               float* out) const override {
        const float lambda = static_cast<float>(k.lambda);
        for (std::size_t i = 0; i < c.n; ++i) {
            float best = 0.0f;
            for (std::size_t t = 0; t < c.experts.size(); ++t) {
                const float v = static_cast<float>(k.weights[t]) * (c.experts[t][i] - c.base[i]);
                if (std::fabs(v) > std::fabs(best)) best = v;
            }
            out[i] = base0(c, i, k) + lambda * best;
        }
    }

private:
    MethodInfo m_info;
};

}  // namespace

void addMaskMethods(std::vector<std::unique_ptr<MergeMethod>>& out) {
    out.push_back(std::make_unique<TallMasks>(false));
    out.push_back(std::make_unique<TallMasks>(true));
    out.push_back(std::make_unique<EmrMerge>());
    out.push_back(std::make_unique<MagMax>());
}

}  // namespace ms::core::merge
