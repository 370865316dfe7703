#include "core/learned/learned_merge.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/optim/adam.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "core/errors.h"
#include "core/io/cache_paths.h"
#include "core/io/cache_store.h"
#include "core/io/content_hash.h"
#include "core/io/source_factory.h"
#include "core/model/param_io.h"
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
    if (!info.needsKit) throw InvalidArgument("'" + method + "' is not a learned merge method (adamerging, calm, regmean, regmean_plus, fisher)");
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

// ---- RegMean, RegMean++, Fisher -------------------------------------------------------------

// `count` images of a set, evenly spaced over it (deterministic; all when count ≥ the set).
std::vector<std::size_t> spacedRows(std::size_t total, int count) {
    std::vector<std::size_t> rows;
    const auto n = std::min<std::size_t>(total, static_cast<std::size_t>(std::max(count, 0)));
    for (std::size_t i = 0; i < n; ++i) rows.push_back(i * total / n);
    return rows;
}

// Per task, its image set's rows used for statistics (the task's realign set, labels ignored).
struct TaskImages {
    std::shared_ptr<const data::ImageSet> set;
    std::vector<std::size_t> rows;
};
std::vector<TaskImages> statisticImages(const eval::TaskSuite& s, int examples, const std::string& method) {
    std::vector<TaskImages> out(s.tasks.size());
    for (const auto& g : s.groups(&eval::SuiteTask::realign))
        for (std::size_t t : g.tasks) out[t] = {g.set, spacedRows(g.set->count, examples)};
    for (std::size_t t = 0; t < out.size(); ++t)
        if (!out[t].set || out[t].rows.empty())
            throw InvalidArgument(method + ": task '" + s.tasks[t].task.name + "' has no images in the kit for its statistics");
    return out;
}

// Running sums of xᵀx per linear module over every token seen (FusionBench's regmean hook), in
// float32 as the reference keeps them (a ViT-B fc2's is 3072 × 3072: float64 would double the
// memory of T experts' statistics and the products' time); the solve is in float64.
struct Grams {
    std::map<std::string, at::Tensor> sum;
    std::map<std::string, std::int64_t> rows;
    model::LinearInputFn hook() {
        return [this](const std::string& module, const at::Tensor& input) {
            const at::Tensor x = input.reshape({-1, input.size(-1)}).to(at::kFloat);
            const at::Tensor xtx = at::matmul(x.transpose(0, 1), x);
            auto it = sum.find(module);
            if (it == sum.end()) sum.emplace(module, xtx);
            else it->second.add_(xtx);
            rows[module] += x.size(0);
        };
    }
    at::Tensor mean(const std::string& module) const { return sum.at(module).to(at::kDouble) / static_cast<double>(rows.at(module)); }
};

// Per-expert statistics (RegMean's Gram matrices, Fisher's diagonal) cached on disk by content:
// the expert file's hash, the exact images (their pixels' hash) and every knob that changes the
// numbers. A damaged or unwritable cache only costs the recomputation.
std::string statisticsKey(const std::string& what, const eval::TaskSuite& s, std::size_t t, const TaskImages& images,
                          const std::string& knobs) {
    if (s.tasks[t].expertHash.empty()) return {};
    std::string pixels;
    for (std::size_t r : images.rows) pixels += io::hashBytes(images.set->image(r), images.set->imageSize());
    std::string norm;  // the pixels' normalisation changes the encoder's inputs
    for (float m : images.set->mean) norm += merge::paramValueText(m) + ",";
    for (float d : images.set->std) norm += merge::paramValueText(d) + ",";
    return what + "|v2|" + s.tasks[t].expertHash + "|" + io::hashBytes(pixels.data(), pixels.size()) + "|" + norm + "|" + knobs;
}

std::optional<ParamMap> loadStatistics(const std::string& key) {
    if (key.empty()) return std::nullopt;
    const std::string file = io::statisticsCacheDir() + "/" + io::hashBytes(key.data(), key.size()) + ".safetensors";
    if (!std::filesystem::exists(file)) return std::nullopt;
    try {
        const auto source = io::openCheckpoint(file);
        if (source->metadata().count("mergescope.statistics") == 0 || source->metadata().at("mergescope.statistics") != key) return std::nullopt;
        io::touchCacheEntry(file);
        return model::loadParams(*source);
    } catch (const std::exception&) {
        return std::nullopt;  // damaged: recomputed and replaced
    }
}

void storeStatistics(const std::string& key, const ParamMap& stats) {
    if (key.empty()) return;
    try {
        std::filesystem::create_directories(io::statisticsCacheDir());
        model::writeParams(io::statisticsCacheDir() + "/" + io::hashBytes(key.data(), key.size()) + ".safetensors", stats,
                           {{"mergescope.statistics", key}});
        io::enforceCacheCap(io::statisticsCacheDir());
    } catch (const std::exception&) {
        // read-only or full cache directory: only time is lost
    }
}

// RegMean's merge of one linear weight W (out × in): Wᵀ = (Σ_t G̃_t)⁻¹ Σ_t G̃_t W_tᵀ with G̃ the Gram
// matrix with its off-diagonal entries scaled by α (reduce_non_diagonal_ratio), in float64.
at::Tensor regmeanWeight(const std::vector<at::Tensor>& grams, const std::vector<at::Tensor>& weights, double alpha) {
    const std::int64_t in = grams.front().size(0);
    const at::Tensor scale = at::full({in, in}, alpha, at::kDouble) + at::eye(in, at::kDouble) * (1.0 - alpha);
    at::Tensor lhs = at::zeros({in, in}, at::kDouble), rhs = at::zeros({in, weights.front().size(0)}, at::kDouble);
    for (std::size_t t = 0; t < grams.size(); ++t) {
        const at::Tensor g = grams[t] * scale;
        lhs += g;
        rhs += at::matmul(g, weights[t].to(at::kDouble).transpose(0, 1));
    }
    at::Tensor solved;
    try {
        solved = at::linalg_solve(lhs, rhs);
    } catch (const c10::Error&) {  // singular (an input never active): the least-norm solution
        solved = at::matmul(at::linalg_pinv(lhs), rhs);
    }
    return solved.transpose(0, 1).to(weights.front().scalar_type()).contiguous();
}

at::Tensor meanOf(const std::vector<ParamMap>& maps, const std::string& name) {
    at::Tensor acc = maps.front().at(name).to(at::kDouble).clone();
    for (std::size_t t = 1; t < maps.size(); ++t) acc += maps[t].at(name).to(at::kDouble);
    return (acc / static_cast<double>(maps.size())).to(maps.front().at(name).scalar_type());
}

// Merges the tensors `names` of the experts: linear weights with statistics by RegMean, the rest
// (biases, norms, embeddings) by the mean, as FusionBench's merging_with_regmean_weights.
void regmeanMerge(const std::vector<ParamMap>& experts, const std::vector<Grams>& grams, const std::vector<std::string>& names,
                  double alpha, ParamMap& merged) {
    const std::string suffix = ".weight";
    for (const auto& n : names) {
        const bool isWeight = n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
        std::string module = isWeight ? n.substr(0, n.size() - suffix.size()) : std::string();
        // q, k and v held apart (QkvForm::Parts) all read the fused projection's input.
        for (const char* part : {"attn.q", "attn.k", "attn.v"})
            if (module.ends_with(part)) module = module.substr(0, module.size() - 6) + "attn.qkv";
        if (isWeight && grams.front().sum.count(module)) {
            std::vector<at::Tensor> g, w;
            for (std::size_t t = 0; t < experts.size(); ++t) {
                g.push_back(grams[t].mean(module));
                w.push_back(experts[t].at(n));
            }
            merged[n] = regmeanWeight(g, w, alpha);
        } else {
            merged[n] = meanOf(experts, n);
        }
    }
}

LearnedResult regMean(const eval::TaskSuite& s, const merge::MethodArgs& a, bool plusPlus, ProgressSink& progress,
                      const CancelToken* cancel) {
    at::NoGradGuard ng;
    const std::size_t T = s.tasks.size();
    const std::string who = plusPlus ? "regmean_plus" : "regmean";
    const auto images = statisticImages(s, static_cast<int>(a.number("examples")), who);
    const auto batch = static_cast<std::size_t>(a.number("batch"));
    const double alpha = a.number("alpha");
    const std::vector<std::string> names = namesOf(s.base);
    const auto batchesOf = [&](std::size_t t) {
        std::vector<at::Tensor> out;
        const auto& rows = images[t].rows;
        for (std::size_t b = 0; b < rows.size(); b += batch)
            out.push_back(eval::imagesToTensor(*images[t].set, {rows.begin() + static_cast<std::ptrdiff_t>(b),
                                                                rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), b + batch))}));
        return out;
    };
    LearnedResult r;
    if (!plusPlus) {
        // Each expert on its own task's images: the Gram matrices of every linear layer's inputs.
        std::vector<Grams> grams(T);
        for (std::size_t t = 0; t < T; ++t) {
            // The means of xᵀx depend on the expert and its images only (batching changes no sum).
            const std::string key = statisticsKey("regmean", s, t, images[t], "");
            if (const auto cached = loadStatistics(key)) {
                for (const auto& [module, g] : *cached) {
                    grams[t].sum[module] = g.to(at::kFloat);
                    grams[t].rows[module] = 1;  // stored as the mean
                }
            } else {
                const model::LinearInputFn hook = grams[t].hook();
                model::ForwardOptions o;
                o.linearInputs = &hook;
                for (const at::Tensor& x : batchesOf(t)) {
                    if (cancel) cancel->throwIfCancelled();
                    model::vitForward(s.config(), s.experts[t], x, o);
                }
                ParamMap means;
                for (const auto& [module, g] : grams[t].sum) means[module] = grams[t].mean(module).to(at::kFloat);
                storeStatistics(key, means);
            }
            progress.report(who + ": statistics", t + 1, T);
        }
        regmeanMerge(s.experts, grams, names, alpha, r.merged);
        return r;
    }
    // RegMean++: block by block, each expert's block fed the merged model's activations on its
    // task's images (the merge so far), merged, then the merged block run to feed the next.
    std::vector<std::string> outside, perBlock;
    for (const auto& n : names) (n.rfind("blocks.", 0) == 0 ? perBlock : outside).push_back(n);
    regmeanMerge(s.experts, std::vector<Grams>(T), outside, alpha, r.merged);  // embeddings, final norm: the mean
    std::vector<std::vector<at::Tensor>> acts(T);
    for (std::size_t t = 0; t < T; ++t)
        for (const at::Tensor& x : batchesOf(t)) acts[t].push_back(model::vitEmbed(s.config(), r.merged, x));
    const int depth = s.config().depth;
    for (int b = 0; b < depth; ++b) {
        if (cancel) cancel->throwIfCancelled();
        const std::string pre = "blocks." + std::to_string(b) + ".";
        std::vector<std::string> blockNames;
        for (const auto& n : perBlock)
            if (n.rfind(pre, 0) == 0) blockNames.push_back(n);
        std::vector<Grams> grams(T);
        for (std::size_t t = 0; t < T; ++t) {
            const model::LinearInputFn hook = grams[t].hook();
            for (const at::Tensor& x : acts[t]) model::vitBlock(s.config(), s.experts[t], b, x, &hook);
        }
        regmeanMerge(s.experts, grams, blockNames, alpha, r.merged);
        if (b + 1 < depth)
            for (auto& batches : acts)
                for (at::Tensor& x : batches) x = model::vitBlock(s.config(), r.merged, b, x);
        progress.report(who + ": blocks", static_cast<std::uint64_t>(b + 1), static_cast<std::uint64_t>(depth));
    }
    return r;
}

// Fisher merging (Matena & Raffel 2022, FusionBench's clip_fisher_merging): per task, the squared
// gradients of Σ_batch Σ_class sqrt(p)·log p (p detached) of its expert and head, batch by batch,
// summed and divided by the examples; classes per pixel for segmentation. Regression heads
// (depth, normals) have no class distribution: the Fisher of a unit Gaussian around the
// prediction, sampled once per output (the loss Σ ε·ŷ, ε ~ N(0, 1)) — our choice. Merged:
// Σ_t c_t (F_t + m) θ_t / Σ_t c_t (F_t + m), c_t = 1/T, normalised by 1/‖F_t‖ (normalize).
LearnedResult fisherMerge(const eval::TaskSuite& s, const merge::MethodArgs& a, ProgressSink& progress, const CancelToken* cancel) {
    const std::size_t T = s.tasks.size();
    const auto images = statisticImages(s, static_cast<int>(a.number("examples")), "fisher");
    const auto batch = static_cast<std::size_t>(a.number("batch"));
    const double minimal = a.number("minimal");
    const std::vector<std::string> names = namesOf(s.base);
    std::vector<ParamMap> fisher(T);
    at::Generator gen = at::detail::createCPUGenerator(static_cast<std::uint64_t>(a.number("seed")));
    for (std::size_t t = 0; t < T; ++t) {
        // The batch-level Fisher depends on how the images are batched, and regression's noise on the seed.
        const std::string key = statisticsKey("fisher", s, t, images[t],
                                              "batch=" + std::to_string(batch) + "|seed=" + merge::paramValueText(a.number("seed")));
        if (auto cached = loadStatistics(key)) {
            fisher[t] = std::move(*cached);
            progress.report("fisher: statistics", t + 1, T);
            continue;
        }
        at::AutoGradMode grad(true);
        ParamMap leaves;
        for (const auto& [n, v] : s.experts[t]) leaves[n] = v.detach().clone().requires_grad_(true);
        for (const auto& n : names) fisher[t][n] = at::zeros_like(s.experts[t].at(n), at::kDouble);
        const auto& rows = images[t].rows;
        for (std::size_t b = 0; b < rows.size(); b += batch) {
            if (cancel) cancel->throwIfCancelled();
            const std::vector<std::size_t> idx(rows.begin() + static_cast<std::ptrdiff_t>(b),
                                               rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), b + batch)));
            const at::Tensor x = eval::imagesToTensor(*images[t].set, idx);
            const auto features = model::vitForward(s.config(), leaves, x, eval::headForwardOptions(s, {t}));
            const at::Tensor out = eval::taskHeadOutput(s, t, s.tasks[t].head, features);
            at::Tensor loss;
            if (kit::predictsValues(s.tasks[t].task.type)) {
                loss = (at::randn(out.sizes(), gen, out.options()) * out).sum();
            } else {
                const at::Tensor logp = at::log_softmax(out, 1);
                loss = (logp.exp().detach().sqrt() * logp).sum();
            }
            std::vector<at::Tensor> inputs;
            for (const auto& n : names) inputs.push_back(leaves.at(n));
            const auto grads = torch::autograd::grad({loss}, inputs, {}, false, false, true);
            for (std::size_t k = 0; k < names.size(); ++k)
                if (grads[k].defined()) fisher[t][names[k]] += grads[k].to(at::kDouble).pow(2);
        }
        for (auto& [n, f] : fisher[t]) f /= static_cast<double>(rows.size());
        storeStatistics(key, fisher[t]);
        progress.report("fisher: statistics", t + 1, T);
    }
    at::NoGradGuard ng;
    std::vector<double> c(T, 1.0 / static_cast<double>(T));
    if (a.choice("normalize") == "true") {
        std::vector<double> inv(T);
        double total = 0;
        for (std::size_t t = 0; t < T; ++t) {
            double sq = 0;
            for (const auto& [n, f] : fisher[t]) sq += f.pow(2).sum().item<double>();
            inv[t] = 1.0 / (std::sqrt(sq) + minimal);
            total += inv[t];
        }
        for (std::size_t t = 0; t < T; ++t) c[t] *= inv[t] / total;
    }
    LearnedResult r;
    for (const auto& n : names) {
        at::Tensor num = at::zeros_like(fisher[0].at(n)), den = at::zeros_like(num);
        for (std::size_t t = 0; t < T; ++t) {
            const at::Tensor w = (fisher[t].at(n) + minimal) * c[t];
            num += w * s.experts[t].at(n).to(at::kDouble);
            den += w;
        }
        r.merged[n] = (num / den).to(s.base.at(n).scalar_type());
    }
    return r;
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
    case merge::LearnedAlgorithm::RegMean: return regMean(suite, args, false, progress, cancel);
    case merge::LearnedAlgorithm::RegMeanPlus: return regMean(suite, args, true, progress, cancel);
    case merge::LearnedAlgorithm::Fisher: return fisherMerge(suite, args, progress, cancel);
    case merge::LearnedAlgorithm::None: break;
    }
    throw InvalidArgument("'" + method.name + "' is not a learned merge method (adamerging, calm, regmean, regmean_plus, fisher)");
}

}  // namespace ms::core::learned
