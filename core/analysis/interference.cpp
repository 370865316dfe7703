#include "core/analysis/interference.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>

#include "core/jobs/parallel.h"
#include "core/merge/linalg.h"
#include "core/merge/topk_selection.h"

namespace ms::core::analysis {

namespace {

struct Accum {
    std::vector<double> gram;  // T×T
    std::uint64_t conflicts = 0;
    std::uint64_t elements = 0;
    explicit Accum(std::size_t T = 0) : gram(T * T, 0.0) {}
    void add(const Accum& o) {
        for (std::size_t i = 0; i < gram.size(); ++i) gram[i] += o.gram[i];
        conflicts += o.conflicts;
        elements += o.elements;
    }
};

GroupStats finish(const std::string& name, const Accum& a, std::size_t T) {
    GroupStats g;
    g.name = name;
    g.elements = a.elements;
    for (std::size_t t = 0; t < T; ++t) g.norms.push_back(std::sqrt(a.gram[t * T + t]));
    g.cosine.assign(T * T, 0.0);
    for (std::size_t s = 0; s < T; ++s)
        for (std::size_t t = 0; t < T; ++t) {
            const double d = g.norms[s] * g.norms[t];
            g.cosine[s * T + t] = s == t ? (g.norms[s] > 0 ? 1.0 : 0.0) : (d > 0 ? a.gram[s * T + t] / d : 0.0);
        }
    g.signConflictRate = a.elements ? static_cast<double>(a.conflicts) / static_cast<double>(a.elements) : 0.0;
    return g;
}

std::vector<double> jaccard(const std::vector<std::uint64_t>& inter, std::size_t T) {
    std::vector<double> out(T * T, 0.0);
    for (std::size_t s = 0; s < T; ++s)
        for (std::size_t t = 0; t < T; ++t) {
            const double uni = static_cast<double>(inter[s * T + s] + inter[t * T + t] - inter[s * T + t]);
            out[s * T + t] = uni > 0 ? static_cast<double>(inter[s * T + t]) / uni : 0.0;
        }
    return out;
}

}  // namespace

double GroupStats::meanPairwiseCosine() const {
    const std::size_t T = norms.size();
    double sum = 0;
    int n = 0;
    for (std::size_t s = 0; s < T; ++s)
        for (std::size_t t = s + 1; t < T; ++t) {
            sum += cosine[s * T + t];
            ++n;
        }
    return n ? sum / n : 0.0;
}

InterferenceReport analyzeInterference(const merge::MergeProblem& problem, std::vector<std::string> taskNames,
                                       const InterferenceOptions& options, ProgressSink& progress,
                                       const CancelToken* cancel) {
    const std::size_t T = problem.taskCount();
    const auto& plan = problem.plan();
    InterferenceReport report;
    report.tasks = std::move(taskNames);
    report.options = options;
    const auto topk = merge::selectTopK(problem, std::vector<double>(T, options.tiesDensity),
                                        merge::TopKScope::Global, progress, cancel);

    std::vector<Accum> perTensor(plan.merged.size(), Accum(T));
    std::vector<std::uint64_t> tiesInter(T * T, 0), tallInter(T * T, 0);
    const float tallLambda = static_cast<float>(options.tallLambda);
    std::mutex m;
    for (std::size_t ti = 0; ti < plan.merged.size(); ++ti) {
        problem.forEachChunkOf(ti, [&](unsigned, const merge::ChunkView& c) {
            Accum a(T);
            std::vector<std::uint64_t> ties(T * T, 0), tall(T * T, 0);
            std::vector<float> tau(T);
            for (std::size_t i = 0; i < c.n; ++i) {
                float mtl = 0;
                bool pos = false, neg = false;
                for (std::size_t t = 0; t < T; ++t) {
                    tau[t] = c.experts[t][i] - c.base[i];
                    mtl += tau[t];
                    pos |= tau[t] > 0;
                    neg |= tau[t] < 0;
                }
                a.conflicts += pos && neg;
                std::uint32_t tiesBits = 0, tallBits = 0;
                for (std::size_t s = 0; s < T; ++s) {
                    for (std::size_t t = s; t < T; ++t) a.gram[s * T + t] += static_cast<double>(tau[s]) * tau[t];
                    if (topk.keepAll(s) || std::fabs(tau[s]) >= topk.threshold(s, 0)) tiesBits |= 1u << s;
                    if (std::fabs(tau[s]) > tallLambda * std::fabs(mtl - tau[s])) tallBits |= 1u << s;
                }
                for (std::size_t s = 0; s < T; ++s)
                    for (std::size_t t = 0; t < T; ++t) {
                        ties[s * T + t] += ((tiesBits >> s) & (tiesBits >> t) & 1u);
                        tall[s * T + t] += ((tallBits >> s) & (tallBits >> t) & 1u);
                    }
            }
            a.elements = c.n;
            std::lock_guard<std::mutex> lock(m);
            perTensor[ti].add(a);
            for (std::size_t x = 0; x < T * T; ++x) {
                tiesInter[x] += ties[x];
                tallInter[x] += tall[x];
            }
        }, cancel);
        progress.report("analysing", ti + 1, plan.merged.size());
    }
    // Symmetrise the upper-triangular Gram matrices.
    for (auto& a : perTensor)
        for (std::size_t s = 0; s < T; ++s)
            for (std::size_t t = 0; t < s; ++t) a.gram[s * T + t] = a.gram[t * T + s];

    Accum all(T);
    std::vector<Accum> blocks(static_cast<std::size_t>(plan.blockCount) + 1, Accum(T));
    for (std::size_t ti = 0; ti < plan.merged.size(); ++ti) {
        const auto& t = plan.merged[ti];
        report.tensors.push_back(finish(t.name, perTensor[ti], T));
        all.add(perTensor[ti]);
        blocks[t.block >= 0 ? static_cast<std::size_t>(t.block) : blocks.size() - 1].add(perTensor[ti]);
    }
    report.all = finish("all", all, T);
    for (std::size_t b = 0; b < blocks.size(); ++b) {
        if (blocks[b].elements == 0) continue;
        report.blocks.push_back(finish(b + 1 == blocks.size() ? "other" : "block " + std::to_string(b), blocks[b], T));
    }
    report.tiesOverlap = jaccard(tiesInter, T);
    report.tallOverlap = jaccard(tallInter, T);
    return report;
}

double MatrixSpectrum::anisotropy() const {
    if (sumSingularValues.empty()) return 0.0;
    double mean = 0;
    for (double v : sumSingularValues) mean += v;
    mean /= static_cast<double>(sumSingularValues.size());
    return mean > 0 ? sumSingularValues.front() / mean : 0.0;
}

SpectrumReport analyzeSpectra(const merge::MergeProblem& problem, std::vector<std::string> taskNames, ProgressSink& progress,
                              const CancelToken* cancel) {
    const auto& plan = problem.plan();
    const std::size_t T = problem.taskCount();
    SpectrumReport r;
    r.tasks = std::move(taskNames);
    std::vector<std::size_t> matrices = merge::linalg::weightMatrices(plan);
    std::sort(matrices.begin(), matrices.end());  // reported in plan order
    r.matrices.resize(matrices.size());
    std::atomic<std::size_t> done{0};
    const merge::linalg::SerialBlas serial;  // the matrices are spread over the cores already
    parallelEach(matrices.size(), [&](unsigned, std::size_t j) {
        if (cancel) cancel->throwIfCancelled();
        const auto& pt = plan.merged[matrices[j]];
        const std::vector<merge::linalg::Matrix> taus = merge::linalg::taskVectorMatrices(problem, matrices[j], "analyze --spectra", cancel);
        const merge::linalg::Matrix sum = merge::linalg::sumOf(taus);
        MatrixSpectrum& m = r.matrices[j];
        m.name = pt.name;
        m.block = pt.block;
        m.rows = pt.shape[0];
        m.cols = pt.shape[1];
        m.sumSingularValues = merge::linalg::singularValues(sum);
        m.sumEffectiveRank = merge::linalg::effectiveRank(m.sumSingularValues);
        for (const auto& tau : taus) m.effectiveRank.push_back(merge::linalg::effectiveRank(merge::linalg::singularValues(tau)));
        progress.report("spectra", ++done, matrices.size());
    });
    std::vector<BlockSpectrum> blocks(static_cast<std::size_t>(plan.blockCount) + 1);
    for (const auto& m : r.matrices) {
        BlockSpectrum& b = blocks[m.block >= 0 ? static_cast<std::size_t>(m.block) : blocks.size() - 1];
        if (b.effectiveRank.empty()) b.effectiveRank.assign(T, 0.0);
        for (std::size_t t = 0; t < T; ++t) b.effectiveRank[t] += m.effectiveRank[t];
        b.sumEffectiveRank += m.sumEffectiveRank;
        b.anisotropy += m.anisotropy();
        ++b.matrices;
    }
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        BlockSpectrum& b = blocks[i];
        if (b.matrices == 0) continue;
        b.name = i + 1 == blocks.size() ? "other" : "block " + std::to_string(i);
        for (double& e : b.effectiveRank) e /= b.matrices;
        b.sumEffectiveRank /= b.matrices;
        b.anisotropy /= b.matrices;
        r.blocks.push_back(b);
    }
    return r;
}

}  // namespace ms::core::analysis
