#include "core/eval/downstream.h"

#include <ATen/core/grad_mode.h>
#include <torch/optim/adam.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <random>

#include "core/errors.h"
#include "core/model/heads.h"
#include "core/model/param_io.h"
#include "core/kit/metrics.h"
#include "core/eval/task_batches.h"

namespace ms::core::eval {

namespace {


// The head re-alignment starts from: the task's own, else the project's head for its kind,
// freshly initialised (SIMO's fix for a dense task without a usable decoder).
model::ParamMap startingHead(const TaskSuite& suite, std::size_t t, std::uint64_t seed) {
    const SuiteTask& task = suite.tasks[t];
    if (task.hasHead()) return task.head;
    return model::initHead(task.headConfig, suite.config().width, seed * 1009 + 31 + t);
}

struct Realigned {
    std::vector<model::ParamMap> heads;
    std::vector<model::Adapter> adapters;
};

// SIMO's representation re-alignment: adapters and heads trained jointly on the mean task loss.
Realigned trainRepresentation(const TaskSuite& suite, const model::ParamMap& encoder, const DownstreamOptions& o,
                              const CancelToken* cancel) {
    at::AutoGradMode grad(true);
    const auto& c = suite.config();
    const std::int64_t D = c.width, r = o.adapterRank;
    Realigned out;
    std::vector<at::Tensor> params;
    at::Generator gen = at::detail::createCPUGenerator(o.seed + 17);
    for (int b = 0; b < c.depth; ++b) {
        model::Adapter a;
        a.down = (at::normal(0.0, 1.0 / std::sqrt(static_cast<double>(D)), {r, D}, gen, at::kFloat)).requires_grad_(true);
        a.up = at::zeros({D, r}, at::kFloat).requires_grad_(true);
        params.push_back(a.down);
        params.push_back(a.up);
        out.adapters.push_back(a);
    }
    for (std::size_t t = 0; t < suite.tasks.size(); ++t) {
        out.heads.push_back(startingHead(suite, t, o.seed));
        if (!suite.tasks[t].realign) continue;  // nothing to train it on
        for (auto& p : model::makeTrainable(out.heads.back())) params.push_back(p);
    }
    torch::optim::Adam opt(params, torch::optim::AdamOptions(o.reprLr));
    const auto groups = suite.groups(&SuiteTask::realign);
    std::mt19937_64 rng(o.seed * 31 + 5);
    model::ForwardOptions fwd;
    fwd.adapters = &out.adapters;
    std::vector<std::size_t> all(suite.tasks.size());
    for (std::size_t t = 0; t < all.size(); ++t) all[t] = t;
    fwd = headForwardOptions(suite, all, fwd);
    for (int step = 0; step < o.reprSteps; ++step) {
        if (cancel) cancel->throwIfCancelled();
        opt.zero_grad();
        at::Tensor loss = at::zeros({}, at::kFloat);
        for (const auto& g : groups) {
            const at::Tensor rows = randomRows(rng, g.set->count, o.reprBatch);
            const model::VitFeatures f = model::vitForward(c, encoder, imagesToTensor(*g.set, rowsToIndices(rows)), fwd);
            for (std::size_t t : g.tasks)
                loss = loss + taskLoss(suite.tasks[t].task, taskHeadOutput(suite, t, out.heads[t], f, true),
                                       suite.tasks[t].realignTargets.index_select(0, rows));
        }
        (loss / static_cast<double>(suite.tasks.size())).backward();
        opt.step();
    }
    for (auto& a : out.adapters) {
        a.down = a.down.detach();
        a.up = a.up.detach();
    }
    for (auto& h : out.heads)
        for (auto& [n, t] : h) t = t.detach();
    return out;
}

}  // namespace

namespace {
double meanOfScored(const std::vector<double>& v) {
    double s = 0;
    int n = 0;
    for (double x : v)
        if (!std::isnan(x)) s += x, ++n;
    return n ? s / n : std::nan("");
}
}  // namespace

double DownstreamScores::mean() const { return meanOfScored(normalized); }
double DownstreamScores::deltaMtl() const { return meanOfScored(delta); }

double relativeDelta(const std::vector<std::pair<kit::Metric, double>>& merged, const std::vector<std::pair<kit::Metric, double>>& expert) {
    double s = 0;
    int n = 0;
    for (const auto& [m, value] : merged)
        for (const auto& [em, base] : expert)
            if (em == m && !std::isnan(value) && !std::isnan(base) && base != 0) {
                s += (kit::higherIsBetter(m) ? 1.0 : -1.0) * (value - base) / std::abs(base);
                ++n;
            }
    return n ? s / n : std::nan("");
}

bool canScore(const SuiteTask& t, DownstreamMode mode) {
    if (!t.eval || mode == DownstreamMode::None) return false;
    if (mode == DownstreamMode::Frozen) return t.hasHead();
    return t.realign != nullptr;
}

std::vector<std::string> downstreamProblems(const TaskSuite& suite, DownstreamMode mode) {
    std::vector<std::string> out;
    if (mode != DownstreamMode::HeadRealign && mode != DownstreamMode::ReprRealign) return out;
    for (const auto& t : suite.tasks)
        if (t.eval && !t.realign) {
            const std::string images = t.probe && !t.probe->files.empty()
                                           ? std::filesystem::path(t.probe->files.front()).parent_path().string()
                                           : t.task.dataset;
            out.push_back("task " + t.task.name + ": " + downstreamModeName(mode) + " trains on labelled images, and its images (" +
                          images + ") have no " + (t.task.type == kit::TaskType::Classification ? "labels" : "targets") +
                          " (use an ImageFolder or a labelled CSV, or `targets`; or --downstream frozen)");
        }
    return out;
}

model::ParamMap realignHead(const kit::Task& task, const model::HeadConfig& config, const model::ParamMap& head,
                            const at::Tensor& tokens, const at::Tensor& targets, int steps, int batch, double lr,
                            std::uint64_t seed, const CancelToken* cancel, int height, int width) {
    at::AutoGradMode grad(true);
    model::ParamMap h = head;
    torch::optim::Adam opt(model::makeTrainable(h), torch::optim::AdamOptions(lr));
    std::mt19937_64 rng(seed * 131 + 7);
    const at::Tensor x = tokens.detach();
    for (int step = 0; step < steps; ++step) {
        if (cancel) cancel->throwIfCancelled();
        const at::Tensor rows = randomRows(rng, x.size(0), std::min<int>(batch, static_cast<int>(x.size(0))));
        opt.zero_grad();
        taskLoss(task, model::headForward(config, h, x.index_select(0, rows), true, height, width), targets.index_select(0, rows)).backward();
        opt.step();
    }
    for (auto& [n, t] : h) t = t.detach();
    return h;
}

DownstreamScores evaluateDownstream(const TaskSuite& suite, const model::ParamMap& encoder, const DownstreamOptions& o,
                                    const CancelToken* cancel, const std::vector<const model::ParamMap*>& perTask) {
    const std::size_t T = suite.tasks.size();
    std::vector<const model::ParamMap*> enc(T, &encoder);
    if (!perTask.empty()) {
        if (perTask.size() != T) throw InvalidArgument("downstream: one encoder per task expected");
        enc = perTask;
    }
    DownstreamScores out;
    if (o.mode == DownstreamMode::None) return out;
    std::vector<model::ParamMap> heads;
    for (const auto& t : suite.tasks) heads.push_back(t.head);
    std::vector<model::Adapter> adapters;
    model::ForwardOptions fwd;
    if (o.mode == DownstreamMode::HeadRealign) {
        // One forward per (encoder, image set), keeping every block any head of the suite reads.
        std::vector<std::size_t> all(T);
        for (std::size_t t = 0; t < T; ++t) all[t] = t;
        const model::ForwardOptions keep = headForwardOptions(suite, all);
        std::map<std::pair<const model::ParamMap*, const data::ImageSet*>, model::VitFeatures> features;
        for (std::size_t t = 0; t < T; ++t) {
            const auto& task = suite.tasks[t];
            if (!canScore(task, o.mode)) continue;
            auto key = std::make_pair(enc[t], task.realign.get());
            auto it = features.find(key);
            if (it == features.end()) it = features.emplace(key, encodeSet(suite.config(), *enc[t], *task.realign, keep, cancel)).first;
            heads[t] = realignHead(task.task, task.headConfig, startingHead(suite, t, o.seed),
                                   model::headTokens(task.headConfig, it->second, suite.config().depth), task.realignTargets,
                                   o.headSteps, o.headBatch, o.headLr, o.seed + t, cancel, it->second.height, it->second.width);
        }
    } else if (o.mode == DownstreamMode::ReprRealign) {
        for (const auto* e : enc)
            if (e != enc.front())
                throw InvalidArgument("repr-realign trains one encoder for all tasks; this method gives one per task");
        Realigned r = trainRepresentation(suite, *enc.front(), o, cancel);
        heads = std::move(r.heads);
        adapters = std::move(r.adapters);
        fwd.adapters = &adapters;
    }
    // Scores, streaming over each eval set once per encoder (tasks on one data set share a pass).
    at::NoGradGuard noGrad;
    std::vector<MetricAccumulator> metrics;
    for (const auto& t : suite.tasks) metrics.emplace_back(t.task);
    std::vector<bool> done(T, false);
    for (std::size_t t = 0; t < T; ++t) done[t] = !canScore(suite.tasks[t], o.mode);
    for (std::size_t t0 = 0; t0 < T; ++t0) {
        if (done[t0]) continue;
        std::vector<std::size_t> group;
        for (std::size_t t = t0; t < T; ++t)
            if (!done[t] && enc[t] == enc[t0] && suite.tasks[t].eval == suite.tasks[t0].eval) group.push_back(t), done[t] = true;
        const data::ImageSet& set = *suite.tasks[t0].eval;
        for (const auto& idx : batchesOf(static_cast<std::size_t>(set.count), 256)) {
            if (cancel) cancel->throwIfCancelled();
            const model::VitFeatures f = model::vitForward(suite.config(), *enc[t0], imagesToTensor(set, idx), headForwardOptions(suite, group, fwd));
            const auto b0 = static_cast<std::int64_t>(idx.front()), n = static_cast<std::int64_t>(idx.size());
            for (std::size_t t : group) metrics[t].add(taskHeadOutput(suite, t, heads[t], f), suite.tasks[t].evalTargets.narrow(0, b0, n));
        }
    }
    for (std::size_t t = 0; t < T; ++t) {
        if (!canScore(suite.tasks[t], o.mode)) {
            out.metric.push_back(std::nan(""));
            out.normalized.push_back(std::nan(""));
            out.metrics.emplace_back();
            out.delta.push_back(std::nan(""));
            continue;
        }
        out.metric.push_back(metrics[t].value());
        out.normalized.push_back(normalizedPerformance(suite.tasks[t].task.metric, out.metric.back(), suite.tasks[t].expertScore));
        out.metrics.push_back(metrics[t].values());
        out.delta.push_back(relativeDelta(out.metrics.back(), suite.tasks[t].expertScores));
    }
    return out;
}

}  // namespace ms::core::eval
