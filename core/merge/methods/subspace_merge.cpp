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
// k = min(rows, cols). The steps are those of the reference code (FusionBench's iso_utils.py and
// TSVM_utils.py); docs/merging.md lists every choice. Per-model weights are not part of these
// methods (the reference has none); 2-D tensors are prepared in parallel, the largest first.
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

enum class Subspace { IsoC, IsoCts, TsvM };

struct SubspacePrepared : PreparedState {
    std::vector<std::vector<float>> merged;  // per planned tensor: M of a 2-D tensor; empty for the others
};

Matrix scaled(Matrix m, double f) {
    for (double& x : m.v) x *= f;
    return m;
}

Matrix isoC(const std::vector<Matrix>& taus) {
    const linalg::Svd d = linalg::svd(linalg::sumOf(taus));
    if (d.s.empty()) return Matrix(taus[0].rows, taus[0].cols);
    const double mean = std::accumulate(d.s.begin(), d.s.end(), 0.0) / static_cast<double>(d.s.size());
    return scaled(linalg::multiply(d.u, d.vt), mean);
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
    const linalg::Svd all = linalg::svd(linalg::sumOf(taus));
    const Matrix uc = linalg::leftColumns(all.u, common), vc = linalg::topRows(all.vt, common);
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
        const linalg::Svd d = linalg::svd(specific);
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
        const linalg::Svd d = linalg::svd(taus[t]);
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
        }
        ParamSpec lambda = lambdaParam();
        lambda.defaultNumber = 1.0;  // FusionBench's scaling_factor / alpha
        m_info.params = {lambda};
        if (kind == Subspace::IsoCts)
            m_info.params.push_back(numberParam("common_fraction", 0.8, 0, 1,
                                                "share of each weight matrix's spectrum kept for the common subspace of Σ τ_t "
                                                "(the rest split evenly between the tasks)",
                                                false, true));
        m_info.linearInLambda = true;
        // One model: TSV-M keeps its every triplet (r = k), so it is task arithmetic; Iso-C and
        // Iso-CTS flatten its spectrum.
    }
    const MethodInfo& info() const override { return m_info; }

    std::shared_ptr<const PreparedState> prepare(const MergeProblem& problem, const MethodArgs& args, ProgressSink& progress,
                                                 const CancelToken* cancel) const override {
        const auto& tensors = problem.plan().merged;
        auto p = std::make_shared<SubspacePrepared>();
        p->merged.resize(tensors.size());
        const std::vector<std::size_t> matrices = linalg::weightMatrices(problem.plan());
        const double fraction = m_kind == Subspace::IsoCts ? args.number("common_fraction") : 0.0;
        std::atomic<std::uint64_t> done{0};
        parallelEach(matrices.size(), [&](unsigned, std::size_t j) {
            if (cancel) cancel->throwIfCancelled();
            const std::size_t ti = matrices[j];
            const std::vector<Matrix> taus = linalg::taskVectorMatrices(problem, ti, m_info.name, cancel);
            const Matrix m = m_kind == Subspace::IsoC ? isoC(taus) : m_kind == Subspace::IsoCts ? isoCts(taus, fraction) : tsvM(taus);
            p->merged[ti].assign(m.v.begin(), m.v.end());
            progress.report(m_info.name + ": weight matrices", ++done, matrices.size());
        });
        return p;
    }

    void apply(const MergeProblem& problem, const PreparedState* prepared, const MethodArgs&, const Coefficients& k,
               const ChunkView& c, float* out) const override {
        const auto& merged = static_cast<const SubspacePrepared*>(prepared)->merged[problem.indexOf(c)];
        const double lambda = k.lambda;
        if (!merged.empty()) {
            for (std::size_t i = 0; i < c.n; ++i) out[i] = base0(c, i, k) + static_cast<float>(lambda * merged[c.begin + i]);
            return;
        }
        const double T = static_cast<double>(c.experts.size());
        for (std::size_t i = 0; i < c.n; ++i) {
            double s = 0;
            for (const float* e : c.experts) s += static_cast<double>(e[i] - c.base[i]);
            out[i] = base0(c, i, k) + static_cast<float>(lambda * (s / T));
        }
    }

private:
    Subspace m_kind;
    MethodInfo m_info;
};

}  // namespace

void addSubspaceMethods(std::vector<std::unique_ptr<MergeMethod>>& out) {
    out.push_back(std::make_unique<SubspaceMerge>(Subspace::IsoC));
    out.push_back(std::make_unique<SubspaceMerge>(Subspace::IsoCts));
    out.push_back(std::make_unique<SubspaceMerge>(Subspace::TsvM));
}

}  // namespace ms::core::merge
