#include "core/eval/task_suite.h"

#include <ATen/core/grad_mode.h>

#include <map>

#include "core/data/mnist_readers.h"
#include "core/data/sampling.h"
#include "core/errors.h"
#include "core/eval/task_batches.h"
#include "core/io/content_hash.h"
#include "core/io/source_factory.h"
#include "core/model/param_io.h"

namespace ms::core::eval {

namespace {

// `count` class-balanced indices of `set` (interleaved classes), or all of it when count ≤ 0.
std::vector<std::size_t> balanced(const data::ImageSet& set, int count, std::uint64_t seed,
                                  const std::vector<std::size_t>& exclude = {}) {
    if (count <= 0 || count >= set.count) {
        std::vector<std::size_t> all(static_cast<std::size_t>(set.count));
        for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
        return all;
    }
    const int classes = std::max(1, set.classes);
    const std::size_t perClass = (static_cast<std::size_t>(count) + static_cast<std::size_t>(classes) - 1) / static_cast<std::size_t>(classes);
    std::vector<std::size_t> idx = data::balancedSample(set.labels, classes, perClass, seed, exclude);
    idx.resize(std::min(idx.size(), static_cast<std::size_t>(count)));
    return idx;
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

}  // namespace

std::vector<std::string> TaskSuite::taskNames() const {
    std::vector<std::string> out;
    for (const auto& t : tasks) out.push_back(t.task.name);
    return out;
}

std::vector<TaskSuite::SetGroup> TaskSuite::groups(std::shared_ptr<const data::ImageSet> SuiteTask::*member) const {
    std::vector<SetGroup> out;
    for (std::size_t t = 0; t < tasks.size(); ++t) {
        const auto& set = tasks[t].*member;
        auto it = std::find_if(out.begin(), out.end(), [&](const SetGroup& g) { return g.set == set; });
        if (it == out.end()) out.push_back({set, {t}});
        else it->tasks.push_back(t);
    }
    return out;
}

TaskSuite loadTaskSuite(const std::string& kitDir, const SuiteOptions& options, ProgressSink& progress,
                        const CancelToken* cancel) {
    TaskSuite s;
    s.options = options;
    progress.report("loading kit", 0, 3);
    s.kit = demo::loadKit(kitDir, true);
    s.base = encoderOnly(model::loadParams(*io::openCheckpoint(s.kit.path(s.kit.baseFile))), nullptr);
    progress.report("loading data", 1, 3);
    const demo::KitData data = demo::loadKitData(options.fashionDir.empty() ? data::kFashionMnistDir : options.fashionDir,
                                                 options.digitsDir.empty() ? demo::defaultDigitsDir() : options.digitsDir,
                                                 s.kit.seed);
    struct Sets {
        std::shared_ptr<const data::ImageSet> probe, realign, eval;
    };
    std::map<std::string, Sets> byDataset;
    for (const auto& entry : s.kit.tasks) {
        if (cancel) cancel->throwIfCancelled();
        SuiteTask t;
        t.task = entry.task;
        t.headConfig = entry.head;
        t.expertFile = s.kit.path(entry.expertFile);
        t.expertHash = entry.hash;
        s.experts.push_back(encoderOnly(model::loadParams(*io::openCheckpoint(t.expertFile)), &t.head));
        if (t.head.empty()) throw FormatError(t.expertFile, "the expert has no head.* tensors");
        auto [it, fresh] = byDataset.try_emplace(t.task.dataset);
        if (fresh) {
            const data::ImageSet& train = data.train(t.task);
            const data::ImageSet& test = data.test(t.task);
            const std::uint64_t seed = options.seed * 7 + std::stoull(io::hashBytes(t.task.dataset.data(), t.task.dataset.size()).substr(0, 6), nullptr, 16);
            const auto probe = balanced(train, options.probeSize, seed);
            it->second.probe = std::make_shared<data::ImageSet>(train.subset(probe, train.name + "/probe"));
            it->second.realign = std::make_shared<data::ImageSet>(
                train.subset(balanced(train, options.realignSamples, seed + 1, probe), train.name + "/realign"));
            it->second.eval = std::make_shared<data::ImageSet>(
                options.evalLimit > 0 ? test.subset(balanced(test, options.evalLimit, seed + 2), test.name + "/eval") : test);
        }
        t.probe = it->second.probe;
        t.realign = it->second.realign;
        t.eval = it->second.eval;
        t.expertScore = entry.expertScore;
        t.realignTargets = allTargets(t.task, *t.realign);
        t.evalTargets = allTargets(t.task, *t.eval);
        s.tasks.push_back(std::move(t));
    }
    progress.report("expert scores", 2, 3);
    if (options.evalLimit > 0) {
        at::NoGradGuard noGrad;
        for (std::size_t i = 0; i < s.tasks.size(); ++i) {
            auto& t = s.tasks[i];
            const at::Tensor tokens = encodeSet(s.config(), s.experts[i], *t.eval, {}, cancel).tokens;
            MetricAccumulator m(t.task);
            for (std::int64_t b0 = 0; b0 < tokens.size(0); b0 += 256) {
                const std::int64_t n = std::min<std::int64_t>(256, tokens.size(0) - b0);
                m.add(model::headForward(t.headConfig, t.head, tokens.narrow(0, b0, n)), t.evalTargets.narrow(0, b0, n));
            }
            t.expertScore = m.value();
        }
    }
    progress.report("ready", 3, 3);
    return s;
}

model::VitFeatures encodeSet(const model::VitConfig& config, const model::ParamMap& params, const data::ImageSet& set,
                             const model::ForwardOptions& options, const CancelToken* cancel, int batch) {
    at::NoGradGuard noGrad;
    std::vector<at::Tensor> tokens;
    std::vector<std::vector<at::Tensor>> blocks(options.keepBlocks.size());
    for (const auto& idx : batchesOf(static_cast<std::size_t>(set.count), static_cast<std::size_t>(batch))) {
        if (cancel) cancel->throwIfCancelled();
        model::VitFeatures f = model::vitForward(config, params, imagesToTensor(set, idx), options);
        tokens.push_back(f.tokens);
        for (std::size_t k = 0; k < f.blocks.size(); ++k) blocks[k].push_back(f.blocks[k]);
    }
    model::VitFeatures out;
    out.tokens = tokens.size() == 1 ? tokens[0] : at::cat(tokens);
    for (auto& b : blocks) out.blocks.push_back(b.size() == 1 ? b[0] : at::cat(b));
    return out;
}

}  // namespace ms::core::eval
