// Methods that interpolate whole models: weighted average, SLERP and Model Stock.
//   average:      θ = Σ w_t θ_t / Σ w_t
//   slerp:        per tensor, spherical interpolation between two models (the base and one
//                 model, or two models), linear when they are nearly parallel (|cos| > 0.9995)
//   model_stock:  per tensor, t = N cosφ / (1 + (N−1) cosφ) with cosφ the mean pairwise cosine of
//                 the task vectors; θ = t·mean(θ_t) + (1 − t) θ0
#include <algorithm>
#include <cmath>
#include <mutex>

#include "core/errors.h"
#include "core/merge/methods/methods.h"

namespace ms::core::merge {

namespace {

class AverageMerge final : public MergeMethod {
public:
    AverageMerge() {
        m_info.name = "average";
        m_info.summary = "weighted average of the models: Σ w_t θ_t / Σ w_t (model soup)";
        m_info.params = {weightParam(), choiceParam("normalize", "true", {"true", "false"},
                                                    "divide by Σ w_t (false: the weighted sum Σ w_t θ_t, mergekit's normalize: false)")};
    }
    const MethodInfo& info() const override { return m_info; }
    void apply(const MergeProblem&, const PreparedState*, const MethodArgs& args, const Coefficients& k, const ChunkView& c,
               float* out) const override {
        float total = 0;
        for (double w : k.weights) total += static_cast<float>(w);
        if (args.choice("normalize") == "false") total = 1.0f;
        if (total == 0) throw InvalidArgument("average: the weights sum to zero");
        for (std::size_t i = 0; i < c.n; ++i) {
            float s = 0;
            for (std::size_t t = 0; t < c.experts.size(); ++t) s += static_cast<float>(k.weights[t]) * c.experts[t][i];
            out[i] = s / total;
        }
    }

private:
    MethodInfo m_info;
};

struct PerTensorStats : PreparedState {
    std::vector<double> value;  // slerp: angle (or -1 for linear); model_stock: t
    std::vector<std::vector<float>> perVector;  // model_stock filter_wise: t per vector along the last axis
};

class SlerpMerge final : public MergeMethod {
public:
    SlerpMerge() {
        m_info.name = "slerp";
        m_info.summary = "spherical interpolation, per tensor, between the base and one model, or two models";
        m_info.maxModels = 2;
        m_info.params = {numberParam("t", 0.5, 0, 1, "interpolation position: 0 = first endpoint, 1 = second")};
    }
    const MethodInfo& info() const override { return m_info; }

    static const float* first(const ChunkView& c) { return c.experts.size() == 2 ? c.experts[0] : c.base; }
    static const float* second(const ChunkView& c) { return c.experts.size() == 2 ? c.experts[1] : c.experts[0]; }

    std::shared_ptr<const PreparedState> prepare(const MergeProblem& problem, const MethodArgs&, ProgressSink& progress,
                                                 const CancelToken* cancel) const override {
        auto p = std::make_shared<PerTensorStats>();
        const auto& tensors = problem.plan().merged;
        for (std::size_t ti = 0; ti < tensors.size(); ++ti) {
            double dot = 0, n0 = 0, n1 = 0;
            std::mutex m;
            problem.forEachChunkOf(ti, [&](unsigned, const ChunkView& c) {
                double d = 0, a = 0, b = 0;
                const float* v0 = first(c);
                const float* v1 = second(c);
                for (std::size_t i = 0; i < c.n; ++i) {
                    d += static_cast<double>(v0[i]) * v1[i];
                    a += static_cast<double>(v0[i]) * v0[i];
                    b += static_cast<double>(v1[i]) * v1[i];
                }
                std::lock_guard<std::mutex> lock(m);
                dot += d;
                n0 += a;
                n1 += b;
            }, cancel);
            const double denom = std::sqrt(n0) * std::sqrt(n1);
            const double cosv = denom > 1e-8 ? dot / denom : 1.0;
            p->value.push_back(std::fabs(cosv) > 0.9995 ? -1.0 : std::acos(std::clamp(cosv, -1.0, 1.0)));
            progress.report("slerp angles", ti + 1, tensors.size());
        }
        return p;
    }

    void apply(const MergeProblem& problem, const PreparedState* prepared, const MethodArgs& args, const Coefficients&,
               const ChunkView& c, float* out) const override {
        const auto* p = static_cast<const PerTensorStats*>(prepared);
        const std::size_t ti = static_cast<std::size_t>(c.tensor - problem.plan().merged.data());
        const double t = args.number("t");
        const double theta = p->value[ti];
        double s0 = 1 - t, s1 = t;
        if (theta >= 0) {
            s0 = std::sin((1 - t) * theta) / std::sin(theta);
            s1 = std::sin(t * theta) / std::sin(theta);
        }
        const float a = static_cast<float>(s0), b = static_cast<float>(s1);
        const float* v0 = first(c);
        const float* v1 = second(c);
        for (std::size_t i = 0; i < c.n; ++i) out[i] = a * v0[i] + b * v1[i];
    }

private:
    MethodInfo m_info;
};

class ModelStockMerge final : public MergeMethod {
public:
    ModelStockMerge() {
        m_info.name = "model_stock";
        m_info.summary = "per tensor, move from θ0 towards the models' mean by their task vectors' agreement (Jang et al. 2024)";
        m_info.minModels = 2;
        m_info.params = {choiceParam("filter_wise", "false", {"false", "true"},
                                     "one ratio per vector along the last axis (per row of a matrix) instead of per tensor "
                                     "(mergekit's filter_wise)",
                                     true)};
    }
    const MethodInfo& info() const override { return m_info; }

    // t = N·cos / (1 + (N − 1)·cos) from a Gram matrix of the task vectors, cosines as mergekit
    // computes them: dot / max(‖a‖·‖b‖, 1e-6), clamped to [−1, 1], averaged over the pairs.
    static double ratio(const double* gram, std::size_t N) {
        double cosSum = 0;
        int pairs = 0;
        for (std::size_t a = 0; a < N; ++a)
            for (std::size_t b = a + 1; b < N; ++b) {
                const double norms = std::max(std::sqrt(gram[a * N + a]) * std::sqrt(gram[b * N + b]), 1e-6);
                cosSum += std::clamp(gram[a * N + b] / norms, -1.0, 1.0);
                ++pairs;
            }
        const double cosv = cosSum / pairs;
        const double denom = 1 + (static_cast<double>(N) - 1) * cosv;
        return std::fabs(denom) < 1e-12 ? 0.0 : static_cast<double>(N) * cosv / denom;  // mergekit: inf/NaN there
    }

    std::shared_ptr<const PreparedState> prepare(const MergeProblem& problem, const MethodArgs& args, ProgressSink& progress,
                                                 const CancelToken* cancel) const override {
        auto p = std::make_shared<PerTensorStats>();
        const std::size_t N = problem.taskCount();
        const auto& tensors = problem.plan().merged;
        const bool filterWise = args.choice("filter_wise") == "true";
        if (filterWise) p->perVector.resize(tensors.size());
        for (std::size_t ti = 0; ti < tensors.size(); ++ti) {
            const PlannedTensor& pt = tensors[ti];
            // One vector per tensor, or (filter_wise) one per stretch of the last axis (rank ≥ 2).
            const std::uint64_t L = filterWise && pt.shape.size() >= 2 ? static_cast<std::uint64_t>(pt.shape.back()) : pt.numel;
            const std::uint64_t vectors = L == 0 ? 0 : pt.numel / L;
            std::vector<double> gram(vectors * N * N, 0.0);
            std::mutex m;
            problem.forEachChunkOf(ti, [&](unsigned, const ChunkView& c) {
                std::vector<double> g(gram.size(), 0.0);
                for (std::size_t i = 0; i < c.n; ++i) {
                    double* gv = g.data() + ((c.begin + i) / L) * N * N;
                    for (std::size_t a = 0; a < N; ++a) {
                        const double ta = c.experts[a][i] - c.base[i];
                        for (std::size_t b = a; b < N; ++b) gv[a * N + b] += ta * (c.experts[b][i] - c.base[i]);
                    }
                }
                std::lock_guard<std::mutex> lock(m);
                for (std::size_t x = 0; x < g.size(); ++x) gram[x] += g[x];
            }, cancel);
            problem.release(ti);
            if (filterWise) {
                auto& tv = p->perVector[ti];
                for (std::uint64_t v = 0; v < vectors; ++v) tv.push_back(static_cast<float>(ratio(gram.data() + v * N * N, N)));
                p->value.push_back(0.0);
            } else {
                p->value.push_back(vectors ? ratio(gram.data(), N) : 0.0);
            }
            progress.report("model stock ratios", ti + 1, tensors.size());
        }
        return p;
    }

    void apply(const MergeProblem& problem, const PreparedState* prepared, const MethodArgs&, const Coefficients&,
               const ChunkView& c, float* out) const override {
        const auto* p = static_cast<const PerTensorStats*>(prepared);
        const std::size_t ti = static_cast<std::size_t>(c.tensor - problem.plan().merged.data());
        const float N = static_cast<float>(c.experts.size());
        const bool filterWise = !p->perVector.empty();
        const std::uint64_t L = filterWise && c.tensor->shape.size() >= 2 ? static_cast<std::uint64_t>(c.tensor->shape.back()) : c.tensor->numel;
        for (std::size_t i = 0; i < c.n; ++i) {
            const float t = filterWise ? p->perVector[ti][(c.begin + i) / L] : static_cast<float>(p->value[ti]);
            float s = 0;
            for (const float* e : c.experts) s += e[i];
            out[i] = t * (s / N) + (1 - t) * c.base[i];
        }
    }

private:
    MethodInfo m_info;
};

}  // namespace

void addInterpolationMethods(std::vector<std::unique_ptr<MergeMethod>>& out) {
    out.push_back(std::make_unique<AverageMerge>());
    out.push_back(std::make_unique<SlerpMerge>());
    out.push_back(std::make_unique<ModelStockMerge>());
}

}  // namespace ms::core::merge
