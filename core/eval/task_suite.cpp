#include "core/eval/task_suite.h"

#include <map>

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <limits>
#include <set>

#include "core/data/sampling.h"
#include "core/errors.h"
#include "core/eval/task_batches.h"
#include "core/model/encoder_weights.h"
#include "core/model/heads.h"
#include "core/model/vit_layouts.h"

namespace ms::core::eval {

std::vector<std::size_t> drawBalanced(const std::vector<std::int32_t>& labels, int classes, std::size_t total, int count,
                                      std::uint64_t seed, const std::vector<std::size_t>& exclude) {
    const std::set<std::size_t> excluded(exclude.begin(), exclude.end());
    const std::size_t left = total - std::min(total, excluded.size());
    if (count <= 0 || static_cast<std::size_t>(count) >= left) {
        std::vector<std::size_t> all;
        for (std::size_t i = 0; i < total; ++i)
            if (!excluded.count(i)) all.push_back(i);
        return all;
    }
    if (labels.size() == total && classes > 0) {
        const auto perClass = (static_cast<std::size_t>(count) + static_cast<std::size_t>(classes) - 1) / static_cast<std::size_t>(classes);
        std::vector<std::size_t> idx = data::balancedSample(labels, classes, perClass, seed, exclude);
        idx.resize(std::min(idx.size(), static_cast<std::size_t>(count)));
        return idx;
    }
    std::vector<std::size_t> pool;
    for (std::size_t i = 0; i < total; ++i)
        if (!excluded.count(i)) pool.push_back(i);
    data::seededShuffle(pool, seed);
    pool.resize(static_cast<std::size_t>(count));
    return pool;
}

model::ParamMap encoderOnly(model::ParamMap all, model::ParamMap* head) {
    for (auto it = all.begin(); it != all.end();) {
        if (it->first.starts_with("head.")) {
            if (head) (*head)[it->first] = it->second;
            it = all.erase(it);
        } else {
            ++it;
        }
    }
    return all;
}

std::vector<std::string> TaskSuite::taskNames() const {
    std::vector<std::string> out;
    for (const auto& t : tasks) out.push_back(t.task.name);
    return out;
}

std::vector<TaskSuite::SetGroup> TaskSuite::groups(std::shared_ptr<const data::ImageSet> SuiteTask::*member) const {
    std::vector<SetGroup> out;
    for (std::size_t t = 0; t < tasks.size(); ++t) {
        const auto& set = tasks[t].*member;
        if (!set) continue;
        auto it = std::find_if(out.begin(), out.end(), [&](const SetGroup& g) { return g.set == set; });
        if (it == out.end()) out.push_back({set, {t}});
        else it->tasks.push_back(t);
    }
    return out;
}

double scoreOnEval(const TaskSuite& suite, std::size_t task, const model::ParamMap& encoder, const CancelToken* cancel) {
    for (const auto& [m, v] : scoresOnEval(suite, task, encoder, cancel))
        if (m == suite.tasks.at(task).task.metric) return v;
    return std::numeric_limits<double>::quiet_NaN();
}

std::vector<std::pair<kit::Metric, double>> scoresOnEval(const TaskSuite& suite, std::size_t task, const model::ParamMap& encoder,
                                                         const CancelToken* cancel) {
    const SuiteTask& t = suite.tasks.at(task);
    if (!t.hasHead() || !t.eval) {
        std::vector<std::pair<kit::Metric, double>> none;
        for (kit::Metric m : kit::metricsOf(t.task.type)) none.emplace_back(m, std::numeric_limits<double>::quiet_NaN());
        return none;
    }
    at::NoGradGuard noGrad;
    MetricAccumulator m(t.task);
    for (const auto& idx : batchesOf(static_cast<std::size_t>(t.eval->count), 256)) {
        if (cancel) cancel->throwIfCancelled();
        const model::VitFeatures f = model::vitForward(suite.config(), encoder, imagesToTensor(*t.eval, idx), headForwardOptions(suite, {task}));
        const auto b0 = static_cast<std::int64_t>(idx.front()), n = static_cast<std::int64_t>(idx.size());
        m.add(taskHeadOutput(suite, task, t.head, f), t.evalTargets.narrow(0, b0, n));
    }
    return m.values();
}

model::ParamMap toEncoder(const TaskSuite& suite, const model::ParamMap& merged) {
    model::ParamMap out = suite.base;
    const model::VitLayout layout = suite.kit.layout.empty() ? model::VitLayout::Timm : model::parseLayout(suite.kit.layout);
    if (layout == model::VitLayout::Timm && suite.kit.basePrefix.empty()) {
        for (const auto& [n, t] : merged)
            if (auto it = out.find(n); it != out.end()) it->second = t;
        return out;
    }
    // In the base's form: q/k/v as views of the merge's buffers where the base holds them apart.
    const model::QkvForm form = out.count("blocks.0.attn.qkv.weight") ? model::QkvForm::Fused : model::QkvForm::Parts;
    const model::ParamMap canonical =
        model::toCanonical(model::stripPrefix(merged, {layout, suite.kit.basePrefix}), layout, suite.config(), nullptr, form);
    for (const auto& [n, t] : canonical)
        if (auto it = out.find(n); it != out.end()) it->second = t;
    return out;
}

model::ForwardOptions headForwardOptions(const TaskSuite& suite, const std::vector<std::size_t>& tasks, model::ForwardOptions options) {
    for (std::size_t t : tasks) model::requestHeadBlocks(options, suite.tasks.at(t).headConfig, suite.config().depth);
    return options;
}

at::Tensor taskHeadOutput(const TaskSuite& suite, std::size_t task, const model::ParamMap& head, const model::VitFeatures& features,
                          bool training) {
    const auto& config = suite.tasks.at(task).headConfig;
    return model::headForward(config, head, model::headTokens(config, features, suite.config().depth), training, features.height,
                              features.width);
}

std::vector<DensePrediction> densePredictions(const TaskSuite& suite, const std::vector<const model::ParamMap*>& perTask, std::size_t image) {
    at::NoGradGuard noGrad;
    std::vector<DensePrediction> out;
    std::map<std::pair<const model::ParamMap*, const data::ImageSet*>, model::VitFeatures> done;
    for (std::size_t t = 0; t < suite.tasks.size(); ++t) {
        const SuiteTask& task = suite.tasks[t];
        if (!kit::isDense(task.task.type) || !task.hasHead() || !task.eval || image >= static_cast<std::size_t>(task.eval->count)) continue;
        const auto key = std::make_pair(perTask.at(t), task.eval.get());
        auto it = done.find(key);
        if (it == done.end()) {
            std::vector<std::size_t> all(suite.tasks.size());
            for (std::size_t k = 0; k < all.size(); ++k) all[k] = k;
            it = done.emplace(key, model::vitForward(suite.config(), *perTask[t], imagesToTensor(*task.eval, {image}), headForwardOptions(suite, all))).first;
        }
        at::Tensor y = taskHeadOutput(suite, t, task.head, it->second)[0];  // [K, H, W]
        at::Tensor truth = task.evalTargets[static_cast<std::int64_t>(image)].to(at::kFloat);  // [H, W] or [C, H, W]
        if (task.task.type == kit::TaskType::Segmentation) y = y.argmax(0).unsqueeze(0).to(at::kFloat);
        if (task.task.type == kit::TaskType::Normals) y = y / y.norm(2, 0, true).clamp_min(1e-12);
        if (truth.dim() == 2) truth = truth.unsqueeze(0);
        DensePrediction d;
        d.task = t;
        d.channels = static_cast<int>(y.size(0));
        d.height = static_cast<int>(y.size(1));
        d.width = static_cast<int>(y.size(2));
        const at::Tensor py = y.permute({1, 2, 0}).contiguous(), ty = truth.permute({1, 2, 0}).contiguous();
        d.prediction.assign(py.data_ptr<float>(), py.data_ptr<float>() + py.numel());
        d.truth.assign(ty.data_ptr<float>(), ty.data_ptr<float>() + ty.numel());
        out.push_back(std::move(d));
    }
    return out;
}

model::VitFeatures encodeSet(const kit::VitConfig& config, const model::ParamMap& params, const data::ImageSet& set,
                             const model::ForwardOptions& options, const CancelToken* cancel, int batch) {
    at::NoGradGuard noGrad;
    std::vector<at::Tensor> tokens, embeddings;
    std::vector<std::vector<at::Tensor>> blocks(options.keepBlocks.size());
    std::vector<int> indices;
    int height = 0, width = 0;
    for (const auto& idx : batchesOf(static_cast<std::size_t>(set.count), static_cast<std::size_t>(batch))) {
        if (cancel) cancel->throwIfCancelled();
        model::VitFeatures f = model::vitForward(config, params, imagesToTensor(set, idx), options);
        tokens.push_back(f.tokens);
        if (f.embedding.defined()) embeddings.push_back(f.embedding);
        for (std::size_t k = 0; k < f.blocks.size(); ++k) blocks[k].push_back(f.blocks[k]);
        indices = f.blockIndices;
        height = f.height;
        width = f.width;
    }
    model::VitFeatures out;
    out.blockIndices = indices;
    out.height = height;
    out.width = width;
    out.tokens = tokens.size() == 1 ? tokens[0] : at::cat(tokens);
    if (!embeddings.empty()) out.embedding = embeddings.size() == 1 ? embeddings[0] : at::cat(embeddings);
    for (auto& b : blocks) out.blocks.push_back(b.size() == 1 ? b[0] : at::cat(b));
    return out;
}

}  // namespace ms::core::eval
