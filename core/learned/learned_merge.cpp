#include "core/learned/learned_merge.h"

#include <ATen/core/grad_mode.h>
#include <torch/optim/adam.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "core/errors.h"
#include "core/eval/task_batches.h"
#include "core/merge/method_registry.h"
#include "core/merge/tensor_plan.h"

namespace ms::core::learned {

namespace {

using model::ParamMap;
using Clock = std::chrono::steady_clock;

std::vector<std::string> namesOf(const ParamMap& m) {
    std::vector<std::string> out;
    for (const auto& [n, t] : m) out.push_back(n);
    return out;  // std::map: sorted by name, the "flattened" order of METHODS.md
}

std::vector<ParamMap> taskVectors(const eval::TaskSuite& s) {
    std::vector<ParamMap> out;
    for (const auto& e : s.experts) {
        ParamMap tv;
        for (const auto& [n, b] : s.base) tv[n] = e.at(n) - b;
        out.push_back(std::move(tv));
    }
    return out;
}

double dot(const ParamMap& a, const ParamMap& b) {
    double s = 0;
    for (const auto& [n, t] : a) s += (t.to(at::kDouble) * b.at(n).to(at::kDouble)).sum().item<double>();
    return s;
}

// Threshold keeping the ⌊k·d⌋ + 1 largest |values| (all, when that is every entry).
double topThreshold(const ParamMap& m, double k) {
    std::vector<at::Tensor> parts;
    for (const auto& [n, t] : m) parts.push_back(t.abs().flatten());
    const at::Tensor all = at::cat(parts);
    const std::int64_t d = all.numel();
    const std::int64_t kth = d - static_cast<std::int64_t>(std::floor(k * static_cast<double>(d)));
    if (kth < 1) return 0.0;
    return std::get<0>(at::kthvalue(all, kth)).item<double>();
}


// Mean Shannon entropy of the class distribution along dim 1 (per image, or per pixel).
at::Tensor meanEntropy(const at::Tensor& logits) {
    const at::Tensor logp = at::log_softmax(logits, 1);
    return -(logp.exp() * logp).sum(1).mean();
}

merge::MethodArgs argsFor(const std::string& method, const merge::ParamValues& params, std::size_t tasks) {
    const auto& info = merge::findMethod(method).info();
    if (!info.needsKit) throw InvalidArgument("'" + method + "' is not a learned merge method (adamerging, calm)");
    return merge::MethodArgs(info, params, {}, tasks);
}

// ---- AdaMerging ---------------------------------------------------------------------------

LearnedResult adaMerging(const eval::TaskSuite& s, const merge::MethodArgs& a, ProgressSink& progress, const CancelToken* cancel) {
    at::AutoGradMode grad(true);
    const std::size_t T = s.tasks.size();
    std::vector<ParamMap> tau = taskVectors(s);
    if (a.choice("vectors") == "ties") tau = tiesVectors(tau, a.number("density"));
    const std::vector<std::string> names = namesOf(s.base);
    const bool layerwise = a.choice("granularity") == "layer";
    const auto K = static_cast<std::int64_t>(layerwise ? names.size() : 1);
    at::Tensor coef = at::full({static_cast<std::int64_t>(T), K}, a.number("init"), at::kFloat).requires_grad_(true);
    torch::optim::Adam opt(std::vector<at::Tensor>{coef}, torch::optim::AdamOptions(a.number("lr")));
    const int steps = static_cast<int>(a.number("steps")), batch = static_cast<int>(a.number("batch")),
              batches = static_cast<int>(a.number("batches"));
    std::mt19937_64 rng(static_cast<std::uint64_t>(a.number("seed")) * 6364136223846793005ULL + 17);
    const auto groups = s.groups(&eval::SuiteTask::realign);
    auto mergedFrom = [&](const at::Tensor& c) {
        ParamMap m;
        for (std::size_t k = 0; k < names.size(); ++k) {
            at::Tensor v = s.base.at(names[k]);
            for (std::size_t t = 0; t < T; ++t)
                v = v + c[static_cast<std::int64_t>(t)][layerwise ? static_cast<std::int64_t>(k) : 0] * tau[t].at(names[k]);
            m[names[k]] = v;
        }
        return m;
    };
    LearnedResult r;
    for (int step = 0; step < steps; ++step) {
        if (cancel) cancel->throwIfCancelled();
        opt.zero_grad();
        const ParamMap merged = mergedFrom(coef);
        at::Tensor loss = at::zeros({}, at::kFloat);
        for (const auto& g : groups)
            for (int b = 0; b < batches; ++b) {
                const at::Tensor rows = eval::randomRows(rng, g.set->count, batch);
                const at::Tensor x = eval::imagesToTensor(*g.set, eval::rowsToIndices(rows));
                const model::VitFeatures features = model::vitForward(s.config(), merged, x, eval::headForwardOptions(s, g.tasks));
                const at::Tensor& tokens = features.tokens;
                for (std::size_t t : g.tasks) {
                    const auto& task = s.tasks[t];
                    at::Tensor lt;
                    if (kit::predictsValues(task.task.type)) {
                        at::Tensor target;
                        {
                            at::NoGradGuard ng;
                            target = model::vitForward(s.config(), s.experts[t], x).tokens;
                        }
                        lt = (tokens - target).pow(2).mean() / target.pow(2).mean().clamp_min(1e-12);
                    } else {
                        lt = meanEntropy(eval::taskHeadOutput(s, t, task.head, features));
                    }
                    loss = loss + lt / static_cast<double>(batches);
                }
            }
        loss.backward();
        if (step == 0) r.artifacts.firstGradNorm.push_back(coef.grad().norm().item<double>());
        opt.step();
        {
            at::NoGradGuard ng;
            coef.clamp_(0.0, 1.0);
        }
        r.artifacts.loss.push_back(loss.item<double>());
        progress.report("adamerging: step " + std::to_string(step + 1) + "/" + std::to_string(steps),
                        static_cast<std::uint64_t>(step + 1), static_cast<std::uint64_t>(steps));
    }
    {
        at::NoGradGuard ng;
        r.merged = mergedFrom(coef.detach());
        for (auto& [n, t] : r.merged) t = t.contiguous();
    }
    r.artifacts.columns = layerwise ? names : std::vector<std::string>{"all"};
    r.artifacts.rows = s.taskNames();
    const at::Tensor c = coef.detach().to(at::kDouble).contiguous();
    for (std::int64_t t = 0; t < c.size(0); ++t)
        r.artifacts.matrix.emplace_back(c[t].data_ptr<double>(), c[t].data_ptr<double>() + c.size(1));
    return r;
}

// ---- CALM ---------------------------------------------------------------------------------

std::string task(const eval::TaskSuite& s, std::size_t t) { return s.tasks[t].task.name; }

struct PseudoSet {
    std::shared_ptr<const data::ImageSet> images;  // the kept samples
    at::Tensor targets;                             // class labels, pixel classes or expert outputs
};

PseudoSet pseudoLabels(const eval::TaskSuite& s, std::size_t t, double ratio, const CancelToken* cancel) {
    at::NoGradGuard ng;
    const auto& task = s.tasks[t];
    const data::ImageSet& pool = *task.realign;
    std::vector<at::Tensor> outs;
    for (const auto& idx : eval::batchesOf(static_cast<std::size_t>(pool.count), 256)) {
        if (cancel) cancel->throwIfCancelled();
        outs.push_back(eval::taskHeadOutput(
            s, t, task.head, model::vitForward(s.config(), s.experts[t], eval::imagesToTensor(pool, idx), eval::headForwardOptions(s, {t}))));
    }
    const at::Tensor out = at::cat(outs);
    std::vector<std::size_t> keep;
    at::Tensor targets;
    if (kit::predictsValues(task.task.type)) {
        keep.resize(static_cast<std::size_t>(pool.count));  // no class distribution: every image, the expert's output as target
        std::iota(keep.begin(), keep.end(), 0);
        targets = out;
    } else {
        const at::Tensor logp = at::log_softmax(out, 1);
        const at::Tensor entropy = -(logp.exp() * logp).sum(1);  // [N] or [N,H,W]
        at::Tensor perImage = entropy.dim() > 1 ? entropy.flatten(1).mean(1) : entropy;
        at::Tensor pl = out.argmax(1);  // [N] or [N,H,W]
        // An image's pseudo-class: its label, or (segmentation) its most frequent pixel class.
        at::Tensor cls = pl.dim() > 1 ? std::get<0>(at::mode(pl.flatten(1), 1)) : pl;
        cls = cls.to(at::kInt).contiguous();
        perImage = perImage.to(at::kDouble).contiguous();
        const std::vector<int> labels(cls.data_ptr<int>(), cls.data_ptr<int>() + cls.numel());
        const std::vector<double> ent(perImage.data_ptr<double>(), perImage.data_ptr<double>() + perImage.numel());
        keep = balancedLowEntropy(labels, ent, ratio);
        targets = pl;
    }
    const at::Tensor rows = at::tensor(std::vector<std::int64_t>(keep.begin(), keep.end()), at::kLong);
    return {std::make_shared<data::ImageSet>(pool.subset(keep, pool.name + "/calm")), targets.index_select(0, rows).contiguous()};
}

LearnedResult calm(const eval::TaskSuite& s, const merge::MethodArgs& a, ProgressSink& progress, const CancelToken* cancel) {
    const std::size_t T = s.tasks.size();
    const std::vector<ParamMap> tau = taskVectors(s);
    const std::vector<std::string> names = namesOf(s.base);
    std::vector<PseudoSet> pseudo;
    for (std::size_t t = 0; t < T; ++t) {
        progress.report("calm: pseudo-labels", t, T);
        pseudo.push_back(pseudoLabels(s, t, a.number("ratio"), cancel));
    }
    const auto first = std::min<std::size_t>(T, static_cast<std::size_t>(a.number("first_group")));
    std::vector<std::size_t> seen;
    ParamMap running;
    for (const auto& n : names) running[n] = at::zeros_like(s.base.at(n));
    for (std::size_t t = 0; t < first; ++t) {
        seen.push_back(t);
        for (const auto& n : names) running[n] = running[n] + a.number("first_lambda") * tau[t].at(n);
    }
    std::vector<std::size_t> rest;
    for (std::size_t t = first; t < T; ++t) rest.push_back(t);
    LearnedResult r;
    std::vector<std::string> blockNames;
    const int depth = s.config().depth;
    for (int b = 0; b < depth; ++b) blockNames.push_back("block " + std::to_string(b));
    blockNames.push_back("other");
    r.artifacts.columns = blockNames;
    const int steps = static_cast<int>(a.number("steps")), batch = static_cast<int>(a.number("batch")),
              batches = static_cast<int>(a.number("batches"));
    std::mt19937_64 rng(static_cast<std::uint64_t>(a.number("seed")) * 6364136223846793005ULL + 29);
    std::size_t stage = 0;
    while (!rest.empty()) {
        // The next task: lowest task-vector cosine to the running merge, or the kit's order.
        std::size_t pick = 0;
        if (a.choice("order") == "cosine") {
            const double nr = std::sqrt(std::max(dot(running, running), 1e-30));
            double best = INFINITY;
            for (std::size_t i = 0; i < rest.size(); ++i) {
                const double c = dot(tau[rest[i]], running) / (std::sqrt(std::max(dot(tau[rest[i]], tau[rest[i]]), 1e-30)) * nr);
                if (c < best) best = c, pick = i;
            }
        }
        const std::size_t n = rest[pick];
        rest.erase(rest.begin() + static_cast<long>(pick));
        seen.push_back(n);
        ++stage;
        // Mask logits: +5 on the new vector's global top fraction, −5 elsewhere.
        const double thr = topThreshold(tau[n], a.number("top"));
        std::vector<at::Tensor> logits;
        ParamMap logit;
        for (const auto& name : names) {
            at::Tensor l = at::where(tau[n].at(name).abs() >= thr, at::full({}, 5.0f), at::full({}, -5.0f))
                               .to(at::kFloat)
                               .expand_as(tau[n].at(name))
                               .contiguous()
                               .requires_grad_(true);
            logit[name] = l;
            logits.push_back(l);
        }
        {
            at::AutoGradMode grad(true);
            torch::optim::Adam opt(logits, torch::optim::AdamOptions(a.number("lr")));
            std::int64_t total = 0;
            for (const auto& l : logits) total += l.numel();
            for (int step = 0; step < steps; ++step) {
                if (cancel) cancel->throwIfCancelled();
                opt.zero_grad();
                ParamMap merged;
                at::Tensor maskSum = at::zeros({}, at::kFloat);
                for (const auto& name : names) {
                    const at::Tensor m = at::sigmoid(logit[name]);
                    merged[name] = s.base.at(name) + (1 - m) * running[name] + m * tau[n].at(name);
                    maskSum = maskSum + m.sum();
                }
                at::Tensor loss = a.number("sparsity") * maskSum / static_cast<double>(total);
                for (std::size_t u : seen) {
                    const auto& task = s.tasks[u];
                    for (int b = 0; b < batches; ++b) {
                        const at::Tensor rows = eval::randomRows(rng, pseudo[u].images->count, batch);
                        const at::Tensor out = eval::taskHeadOutput(
                            s, u, task.head,
                            model::vitForward(s.config(), merged, eval::imagesToTensor(*pseudo[u].images, eval::rowsToIndices(rows)),
                                              eval::headForwardOptions(s, {u})));
                        loss = loss + eval::taskLoss(task.task, out, pseudo[u].targets.index_select(0, rows)) / static_cast<double>(batches);
                    }
                }
                loss.backward();
                if (step == 0) {
                    double g = 0;
                    for (const auto& l : logits) g += l.grad().pow(2).sum().item<double>();
                    r.artifacts.firstGradNorm.push_back(std::sqrt(g));
                }
                opt.step();
                r.artifacts.loss.push_back(loss.item<double>());
                progress.report("calm: adding " + task(s, n) + " (" + std::to_string(stage) + "/" + std::to_string(T - first) +
                                    "), step " + std::to_string(step + 1) + "/" + std::to_string(steps),
                                static_cast<std::uint64_t>(step + 1), static_cast<std::uint64_t>(steps));
            }
        }
        // The binary mask, and the conflict-free combination.
        at::NoGradGuard ng;
        ParamMap mask;
        std::vector<double> on(blockNames.size(), 0.0), count(blockNames.size(), 0.0);
        for (const auto& name : names) {
            mask[name] = (logit[name].detach() > 0).to(at::kFloat);
            const int blk = merge::blockIndexOf(name);
            const std::size_t col = blk >= 0 && blk < depth ? static_cast<std::size_t>(blk) : blockNames.size() - 1;
            on[col] += mask[name].sum().item<double>();
            count[col] += static_cast<double>(mask[name].numel());
        }
        running = combineMasked(running, tau[n], mask);
        std::vector<double> density;
        for (std::size_t c = 0; c < on.size(); ++c) density.push_back(count[c] > 0 ? on[c] / count[c] : 0.0);
        r.artifacts.rows.push_back(s.tasks[n].task.name);
        r.artifacts.matrix.push_back(density);
    }
    at::NoGradGuard ng;
    for (const auto& name : names) r.merged[name] = (s.base.at(name) + running[name]).contiguous();
    return r;
}

}  // namespace

std::vector<std::size_t> balancedLowEntropy(const std::vector<int>& labels, const std::vector<double>& entropy, double ratio) {
    std::map<int, std::vector<std::size_t>> byClass;
    for (std::size_t i = 0; i < labels.size(); ++i) byClass[labels[i]].push_back(i);
    std::vector<std::size_t> keep;
    for (auto& [c, idx] : byClass) {
        std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return entropy[a] < entropy[b]; });
        const auto n = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(ratio * static_cast<double>(idx.size()) - 1e-9)));
        keep.insert(keep.end(), idx.begin(), idx.begin() + static_cast<long>(std::min(n, idx.size())));
    }
    std::sort(keep.begin(), keep.end());
    return keep;
}

ParamMap combineMasked(const ParamMap& running, const ParamMap& tauNew, const ParamMap& mask) {
    ParamMap out;
    for (const auto& [n, r] : running) out[n] = at::where(mask.at(n) > 0.5, tauNew.at(n), r);
    return out;
}

std::vector<ParamMap> tiesVectors(const std::vector<ParamMap>& tau, double density) {
    at::NoGradGuard ng;
    std::vector<ParamMap> trimmed;
    for (const auto& t : tau) {
        const double thr = topThreshold(t, density);
        ParamMap m;
        for (const auto& [n, v] : t) m[n] = at::where(v.abs() >= thr, v, at::zeros_like(v));
        trimmed.push_back(std::move(m));
    }
    // Elected sign per coordinate; a tie takes the majority sign over all coordinates.
    ParamMap sign;
    double majority = 0;
    for (const auto& [n, v] : trimmed.front()) {
        at::Tensor sum = at::zeros_like(v);
        for (const auto& t : trimmed) sum = sum + t.at(n);
        sign[n] = at::sign(sum);
        majority += sign[n].sum().item<double>();
    }
    const float fill = majority >= 0 ? 1.0f : -1.0f;
    for (auto& [n, g] : sign) g = at::where(g == 0, at::full({}, fill), g);
    std::vector<ParamMap> out;
    for (const auto& t : trimmed) {
        ParamMap m;
        for (const auto& [n, v] : t) m[n] = at::where(at::sign(v) == sign.at(n), v, at::zeros_like(v));
        out.push_back(std::move(m));
    }
    return out;
}

LearnedResult runLearnedMerge(const eval::TaskSuite& suite, const std::string& method, const merge::ParamValues& params,
                              ProgressSink& progress, const CancelToken* cancel) {
    return runLearnedMerge(suite, merge::findMethod(method).info(), argsFor(method, params, suite.tasks.size()), progress, cancel);
}

LearnedResult runLearnedMerge(const eval::TaskSuite& suite, const merge::MethodInfo& method, const merge::MethodArgs& args,
                              ProgressSink& progress, const CancelToken* cancel) {
    switch (method.learns) {
    case merge::LearnedAlgorithm::EntropyCoefficients: return adaMerging(suite, args, progress, cancel);
    case merge::LearnedAlgorithm::ConsensusMasks: return calm(suite, args, progress, cancel);
    case merge::LearnedAlgorithm::None: break;
    }
    throw InvalidArgument("'" + method.name + "' is not a learned merge method (adamerging, calm)");
}

}  // namespace ms::core::learned
