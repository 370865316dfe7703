// Methods that merge 2-D weights through the singular value decompositions of task vectors
// (float64 SVDs on LAPACK, core/merge/linalg.h); every tensor that is not a matrix (biases, norms,
// the patch embedding's 4-D kernel, position embeddings) takes the mean task vector. All are
// θ = θ0 + λ·M with M fixed by the preparation (linear in λ: the live slider stays instant).
//   iso_c   (Marczak et al. 2025, Iso-C): Σ_t τ_t = U·diag(s)·Vᵀ → mean(s)·U·Vᵀ.
//   iso_cts (Iso-CTS): the top c singular directions of Σ_t τ_t (c = ⌊k·common_fraction⌋, then
//           moved so that the k − c others split evenly: per task ⌊(k − c)/T⌉·T/T, rounding half
//           to even as Python's round), and per task its top directions of τ_t outside that
//           common subspace; the stacked U and V replaced by their nearest orthogonal matrices and
//           every singular value by the mean of the stacked ones.
//   tsv_m   (Gargiulo et al. 2025, TSV-M): per task its top r = int(k·(1/T)) singular triplets;
//           the stacked U and V replaced by their nearest orthogonal matrices; the stacked
//           singular values kept.
//   cart    (Choi et al. 2024, CART): θ_avg + λ·Σ_t rank-r(θ_t − θ_avg), r = max(1, int(k·rank_ratio)),
//           on the weight matrices of the transformer blocks (attention and MLP); every other
//           tensor θ_avg (its centred sum is 0). Affine, not linear, in λ.
//   wudi    (Cheng et al. 2025, WUDI): per weight matrix, τ_m minimising
//           Σ_t ‖(τ_m − τ_t)·τ_tᵀ‖² / ‖τ_t‖² by `steps` steps of Adam (lr, β 0.9/0.999, ε 1e-8)
//           from τ_m = Σ_t τ_t. The loss is quadratic: its gradient is 2·(τ_m·G − B) with
//           G = Σ_t τ_tᵀτ_t/‖τ_t‖² and B = Σ_t τ_t·τ_tᵀτ_t/‖τ_t‖² formed once, so a step costs one
//           product whatever the number of tasks. Deterministic (no sampling).
// k = min(rows, cols). The steps are those of the reference code (FusionBench's iso_utils.py,
// TSVM_utils.py and wudi.py; the CART authors' merging.py); docs/merging.md lists every choice.
// Per-model weights are not part of these methods (the references have none); 2-D tensors are
// prepared in parallel, the largest first.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>

#include "core/errors.h"
#include "core/jobs/parallel.h"
#include "core/merge/linalg.h"
#include "core/merge/methods/methods.h"

namespace ms::core::merge {

namespace {

using linalg::Matrix;

enum class Subspace { IsoC, IsoCts, TsvM, Cart, Wudi };

struct SubspacePrepared : PreparedState {
    std::vector<std::vector<float>> merged;  // per planned tensor: M of a 2-D tensor; empty for the others
};

Matrix scaled(Matrix m, double f) {
    for (double& x : m.v) x *= f;
    return m;
}

Matrix isoC(const std::vector<Matrix>& taus) {
    // mean(s)·U·Vᵀ is the polar factor of Σ τ times its mean singular value: no cut, so the
    // eigendecomposition route (linalg::polarDecomposition) gives it without a full SVD.
    const linalg::Polar d = linalg::polarDecomposition(linalg::sumOf(taus));
    if (d.s.empty()) return Matrix(taus[0].rows, taus[0].cols);
    const double mean = std::accumulate(d.s.begin(), d.s.end(), 0.0) / static_cast<double>(d.s.size());
    return scaled(d.q, mean);
}

// Places columns [0, n) of `from` at column `at` of `to` (and the matching rows / values).
void placeColumns(Matrix& to, std::int64_t at, const Matrix& from, std::int64_t n) {
    for (std::int64_t r = 0; r < to.rows; ++r)
        for (std::int64_t j = 0; j < n; ++j) to.at(r, at + j) = from.at(r, j);
}
void placeRows(Matrix& to, std::int64_t at, const Matrix& from, std::int64_t n) {
    for (std::int64_t r = 0; r < n; ++r)
        for (std::int64_t j = 0; j < to.cols; ++j) to.at(at + r, j) = from.at(r, j);
}

// The sizes Iso-CTS gives a k-dimensional spectrum: the common subspace's and each task's.
std::pair<std::int64_t, std::int64_t> isoCtsSizes(std::int64_t k, std::size_t tasks, double fraction) {
    const auto T = static_cast<std::int64_t>(tasks);
    const auto c0 = static_cast<std::int64_t>(static_cast<double>(k) * fraction);  // int(): toward zero
    // round((k − c0)/T)·T with Python's round (half to even); nearbyint rounds so in the default mode.
    std::int64_t total = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(k - c0) / static_cast<double>(T))) * T;
    if (total > k) total = (k / T) * T;  // more task directions than the spectrum holds (tiny matrices): as many as fit
    return {k - total, total / T};
}

Matrix isoCts(const std::vector<Matrix>& taus, double fraction) {
    const std::int64_t rows = taus[0].rows, cols = taus[0].cols, k = std::min(rows, cols);
    const auto [common, per] = isoCtsSizes(k, taus.size(), fraction);
    const linalg::Svd all = linalg::topSingular(linalg::sumOf(taus), common);
    const Matrix& uc = all.u;
    const Matrix& vc = all.vt;
    Matrix cu(rows, k), cv(k, cols);
    std::vector<double> cs(static_cast<std::size_t>(k), 0.0);
    // Each task vector out of the common subspace: τ − Uc·(Ucᵀ·τ) (Ucᵀ applied first: the
    // rows × rows projector is never formed).
    Matrix ucT(common, rows);
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t j = 0; j < common; ++j) ucT.at(j, r) = uc.at(r, j);
    for (std::size_t t = 0; t < taus.size(); ++t) {
        Matrix specific = taus[t];
        const Matrix inCommon = linalg::multiply(uc, linalg::multiply(ucT, taus[t]));
        for (std::size_t i = 0; i < specific.v.size(); ++i) specific.v[i] -= inCommon.v[i];
        const linalg::Svd d = linalg::topSingular(specific, per);
        const std::int64_t at = static_cast<std::int64_t>(t) * per;
        placeColumns(cu, at, d.u, per);
        placeRows(cv, at, d.vt, per);
        std::copy_n(d.s.begin(), per, cs.begin() + at);
    }
    const std::int64_t at = static_cast<std::int64_t>(taus.size()) * per;
    placeColumns(cu, at, uc, common);
    placeRows(cv, at, vc, common);
    std::copy_n(all.s.begin(), common, cs.begin() + at);
    const double mean = cs.empty() ? 0.0 : std::accumulate(cs.begin(), cs.end(), 0.0) / static_cast<double>(cs.size());
    return scaled(linalg::multiply(linalg::polar(cu), linalg::polar(cv)), mean);
}

Matrix tsvM(const std::vector<Matrix>& taus) {
    const std::int64_t rows = taus[0].rows, cols = taus[0].cols, k = std::min(rows, cols);
    const auto r = static_cast<std::int64_t>(static_cast<double>(k) * (1.0 / static_cast<double>(taus.size())));  // as the reference
    Matrix su(rows, k), sv(k, cols);
    std::vector<double> ss(static_cast<std::size_t>(k), 0.0);
    for (std::size_t t = 0; t < taus.size(); ++t) {
        const linalg::Svd d = linalg::topSingular(taus[t], r);
        const std::int64_t at = static_cast<std::int64_t>(t) * r;
        placeColumns(su, at, d.u, r);
        placeRows(sv, at, d.vt, r);
        std::copy_n(d.s.begin(), r, ss.begin() + at);
    }
    Matrix left = linalg::polar(su);  // rows × k, scaled column by column by the stacked singular values
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < k; ++j) left.at(i, j) *= ss[static_cast<std::size_t>(j)];
    return linalg::multiply(left, linalg::polar(sv));
}

Matrix mean(const std::vector<Matrix>& taus) { return scaled(linalg::sumOf(taus), 1.0 / static_cast<double>(taus.size())); }

// Σ_t rank-r(τ_t − τ̄): the low-rank parts of the task vectors centred on their mean.
Matrix cart(const std::vector<Matrix>& taus, double rankRatio) {
    const std::int64_t k = std::min(taus[0].rows, taus[0].cols);
    Matrix out(taus[0].rows, taus[0].cols);
    if (rankRatio <= 0.0) return out;  // the reference zeroes every centred task vector
    const std::int64_t r = rankRatio >= 1.0 ? k : std::max<std::int64_t>(1, static_cast<std::int64_t>(rankRatio * static_cast<double>(k)));
    const Matrix avg = mean(taus);
    for (const Matrix& tau : taus) {
        Matrix centred = tau;
        for (std::size_t i = 0; i < centred.v.size(); ++i) centred.v[i] -= avg.v[i];
        const Matrix low = linalg::truncated(linalg::topSingular(centred, r), r);
        for (std::size_t i = 0; i < out.v.size(); ++i) out.v[i] += low.v[i];
    }
    return out;
}

Matrix wudi(const std::vector<Matrix>& taus, int steps, double lr, const CancelToken* cancel) {
    const std::int64_t rows = taus[0].rows, cols = taus[0].cols;
    Matrix g(cols, cols), b(rows, cols);
    for (const Matrix& tau : taus) {
        double norm2 = 0;
        for (double x : tau.v) norm2 += x * x;
        if (norm2 == 0.0) continue;  // τ_t = 0 adds nothing to the loss (the reference divides 0 by 0)
        const Matrix gt = linalg::gram(tau);
        const Matrix bt = linalg::multiply(tau, gt);
        for (std::size_t i = 0; i < g.v.size(); ++i) g.v[i] += gt.v[i] / norm2;
        for (std::size_t i = 0; i < b.v.size(); ++i) b.v[i] += bt.v[i] / norm2;
    }
    Matrix m = linalg::sumOf(taus), product(rows, cols);
    std::vector<double> m1(m.v.size(), 0.0), m2(m.v.size(), 0.0);
    const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // torch.optim.Adam's defaults
    for (int step = 1; step <= steps; ++step) {
        if (cancel && step % 16 == 0) cancel->throwIfCancelled();
        linalg::multiplyInto(m, g, product);
        const double c1 = 1.0 - std::pow(beta1, step), c2 = std::sqrt(1.0 - std::pow(beta2, step));
        for (std::size_t i = 0; i < m.v.size(); ++i) {
            const double grad = 2.0 * (product.v[i] - b.v[i]);
            m1[i] = beta1 * m1[i] + (1.0 - beta1) * grad;
            m2[i] = beta2 * m2[i] + (1.0 - beta2) * grad * grad;
            m.v[i] -= (lr / c1) * m1[i] / (std::sqrt(m2[i]) / c2 + eps);
        }
    }
    return m;
}

class SubspaceMerge final : public MergeMethod {
public:
    explicit SubspaceMerge(Subspace kind) : m_kind(kind) {
        switch (kind) {
            case Subspace::IsoC:
                m_info.name = "iso_c";
                m_info.summary = "Σ τ_t with its spectrum flattened to the mean singular value, per weight matrix (Iso-C, Marczak et al. 2025)";
                break;
            case Subspace::IsoCts:
                m_info.name = "iso_cts";
                m_info.summary = "Iso-C on the common subspace plus each task's own directions outside it (Iso-CTS, Marczak et al. 2025)";
                break;
            case Subspace::TsvM:
                m_info.name = "tsv_m";
                m_info.summary = "each task's top 1/T singular triplets per weight matrix, decorrelated (TSV-M, Gargiulo et al. 2025)";
                break;
            case Subspace::Cart:
                m_info.name = "cart";
                m_info.summary = "the average plus λ times the low-rank parts of the centred task vectors, per block weight matrix (CART, Choi et al. 2024)";
                break;
            case Subspace::Wudi:
                m_info.name = "wudi";
                m_info.summary = "per weight matrix, the merged task vector that least disturbs each task's own inputs, by Adam (WUDI, Cheng et al. 2025)";
                break;
        }
        ParamSpec lambda = lambdaParam();
        lambda.defaultNumber = kind == Subspace::Cart ? 2.0 : 1.0;  // CART's prior; FusionBench's scaling_factor / alpha
        if (kind == Subspace::Cart) lambda.help = "scale of the low-rank centred task vectors added to the average (CART's prior)";
        m_info.params = {lambda};
        if (kind == Subspace::Cart)
            m_info.params.push_back(numberParam("rank_ratio", 0.12, 0, 1,
                                                "share of each block weight matrix's spectrum kept per centred task vector "
                                                "(rank max(1, ⌊k·rank_ratio⌋); 0 gives the average, 1 the average too)",
                                                false, true));
        if (kind == Subspace::Wudi) {
            m_info.params.push_back(integerParam("steps", 400, 0, 100000, "Adam steps per weight matrix (FusionBench's iter_num)", true));
            m_info.params.push_back(numberParam("lr", 1e-5, 0, 1, "Adam's learning rate", false, true));
        }
        if (kind == Subspace::IsoCts)
            m_info.params.push_back(numberParam("common_fraction", 0.8, 0, 1,
                                                "share of each weight matrix's spectrum kept for the common subspace of Σ τ_t "
                                                "(the rest split evenly between the tasks)",
                                                false, true));
        m_info.linearInLambda = kind != Subspace::Cart;  // CART: θ_avg + λ·L, affine in λ
        // One model: TSV-M keeps its every triplet (r = k), so it is task arithmetic; Iso-C and
        // Iso-CTS flatten its spectrum.
    }
    const MethodInfo& info() const override { return m_info; }

    std::shared_ptr<const PreparedState> prepare(const MergeProblem& problem, const MethodArgs& args, ProgressSink& progress,
                                                 const CancelToken* cancel) const override {
        const auto& tensors = problem.plan().merged;
        auto p = std::make_shared<SubspacePrepared>();
        p->merged.resize(tensors.size());
        std::vector<std::size_t> matrices = linalg::weightMatrices(problem.plan());
        if (m_kind == Subspace::Cart)  // the attention and MLP matrices: those inside a transformer block
            std::erase_if(matrices, [&](std::size_t ti) { return tensors[ti].block < 0; });
        std::atomic<std::uint64_t> done{0};
        const linalg::SerialBlas serial;  // the matrices are spread over the cores already
        parallelEach(matrices.size(), [&](unsigned, std::size_t j) {
            if (cancel) cancel->throwIfCancelled();
            const std::size_t ti = matrices[j];
            const std::vector<Matrix> taus = linalg::taskVectorMatrices(problem, ti, m_info.name, cancel);
            const Matrix m = compute(taus, args, cancel);
            p->merged[ti].assign(m.v.begin(), m.v.end());
            progress.report(m_info.name + ": weight matrices", ++done, matrices.size());
        });
        return p;
    }

    void apply(const MergeProblem& problem, const PreparedState* prepared, const MethodArgs&, const Coefficients& k,
               const ChunkView& c, float* out) const override {
        const auto& merged = static_cast<const SubspacePrepared*>(prepared)->merged[problem.indexOf(c)];
        const double lambda = k.lambda;
        const double T = static_cast<double>(c.experts.size());
        const auto meanTau = [&](std::size_t i) {
            double s = 0;
            for (const float* e : c.experts) s += static_cast<double>(e[i] - c.base[i]);
            return s / T;
        };
        if (m_kind == Subspace::Cart) {  // θ_avg (+ λ·L on the block matrices)
            for (std::size_t i = 0; i < c.n; ++i)
                out[i] = c.base[i] + static_cast<float>(meanTau(i) + (merged.empty() ? 0.0 : lambda * merged[c.begin + i]));
            return;
        }
        if (!merged.empty()) {
            for (std::size_t i = 0; i < c.n; ++i) out[i] = base0(c, i, k) + static_cast<float>(lambda * merged[c.begin + i]);
            return;
        }
        for (std::size_t i = 0; i < c.n; ++i) out[i] = base0(c, i, k) + static_cast<float>(lambda * meanTau(i));
    }

private:
    Matrix compute(const std::vector<Matrix>& taus, const MethodArgs& args, const CancelToken* cancel) const {
        switch (m_kind) {
            case Subspace::IsoC: return isoC(taus);
            case Subspace::IsoCts: return isoCts(taus, args.number("common_fraction"));
            case Subspace::TsvM: return tsvM(taus);
            case Subspace::Cart: return cart(taus, args.number("rank_ratio"));
            case Subspace::Wudi: return wudi(taus, static_cast<int>(args.number("steps")), args.number("lr"), cancel);
        }
        return {};
    }

    Subspace m_kind;
    MethodInfo m_info;
};

}  // namespace

void addSubspaceMethods(std::vector<std::unique_ptr<MergeMethod>>& out) {
    out.push_back(std::make_unique<SubspaceMerge>(Subspace::IsoC));
    out.push_back(std::make_unique<SubspaceMerge>(Subspace::IsoCts));
    out.push_back(std::make_unique<SubspaceMerge>(Subspace::TsvM));
    out.push_back(std::make_unique<SubspaceMerge>(Subspace::Cart));
    out.push_back(std::make_unique<SubspaceMerge>(Subspace::Wudi));
}

}  // namespace ms::core::merge
