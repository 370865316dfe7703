#include "core/session/kit_session.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/demo/demo_kit.h"
#include "core/errors.h"
#include "core/eval/task_suite.h"
#include "core/learned/learned_merge.h"
#include "core/merge/merge_engine.h"
#include "core/merge/recipe.h"
#include "core/merge/method_registry.h"
#include "core/model/param_io.h"
#include "core/proxy/task_alignment.h"
#include "core/sweep/sweep_runner.h"

namespace ms::core::session {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

merge::MergeSpec specFor(const eval::TaskSuite& suite, const std::string& method, const std::map<std::string, double>& params,
                         const std::vector<double>& weights) {
    merge::MergeSpec m;
    m.method = method;
    m.base = suite.kit.path(suite.kit.baseFile);
    for (std::size_t t = 0; t < suite.tasks.size(); ++t) {
        merge::ModelRef ref{suite.tasks[t].expertFile, suite.tasks[t].task.name, {}};
        if (t < weights.size()) ref.params["weight"] = weights[t];
        m.models.push_back(ref);
    }
    for (const auto& [k, v] : params) m.params[k] = v;
    return m;
}

// The suite with each probe set cut to its first n images (shared between tasks as before).
eval::TaskSuite withSmallProbes(const eval::TaskSuite& suite, int n) {
    eval::TaskSuite live = suite;
    for (const auto& g : suite.groups(&eval::SuiteTask::probe)) {
        std::vector<std::size_t> idx;
        for (std::int64_t i = 0; i < std::min<std::int64_t>(n, g.set->count); ++i) idx.push_back(static_cast<std::size_t>(i));
        auto small = std::make_shared<data::ImageSet>(g.set->subset(idx, g.set->name + "/live"));
        for (std::size_t t : g.tasks) live.tasks[t].probe = small;
    }
    return live;
}

}  // namespace

struct KitSession::Impl {
    SessionOptions options;
    eval::TaskSuite suite;
    eval::TaskSuite liveSuite;
    std::unique_ptr<proxy::TaskAlignmentProxy> liveProxy;
    std::unique_ptr<merge::MergeEngine> liveEngine;
    std::string liveMethod;
    std::vector<std::vector<std::vector<float>>> liveBuffers;
};

KitSession::KitSession(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
KitSession::~KitSession() = default;

std::unique_ptr<KitSession> KitSession::open(const std::string& kitDir, const SessionOptions& options, ProgressSink& progress,
                                             const CancelToken* cancel) {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    eval::SuiteOptions so;
    so.probeSize = options.probeSize;
    so.realignSamples = options.realignSamples;
    so.evalLimit = options.evalLimit;
    so.seed = options.seed;
    so.digitsDir = options.digitsDir;
    impl->suite = eval::loadTaskSuite(kitDir, so, progress, cancel);
    impl->liveSuite = withSmallProbes(impl->suite, options.liveProbeSize);
    progress.report("live proxy", 0, 1);
    impl->liveProxy = std::make_unique<proxy::TaskAlignmentProxy>(
        impl->liveSuite, std::vector<proxy::ProxyVariant>{proxy::parseProxyVariant("task-alignment")}, options.featureCache,
        nullProgress(), cancel);
    progress.report("live proxy", 1, 1);
    return std::unique_ptr<KitSession>(new KitSession(std::move(impl)));
}

const std::string& KitSession::kitDir() const { return m_impl->suite.kit.dir; }

std::string KitSession::architecture() const {
    const auto& c = m_impl->suite.config();
    std::int64_t params = 0;
    for (const auto& [n, t] : m_impl->suite.base) params += t.numel();
    char buf[160];
    std::snprintf(buf, sizeof buf, "ViT %d×%d, patch %d, width %d, depth %d, %d heads (%.2f M parameters)", c.imageSize,
                  c.imageSize, c.patchSize, c.width, c.depth, c.heads, static_cast<double>(params) / 1e6);
    return buf;
}

std::string KitSession::baseFile() const { return m_impl->suite.kit.path(m_impl->suite.kit.baseFile); }
std::string KitSession::baseHash() const { return m_impl->suite.kit.baseHash; }
std::vector<std::string> KitSession::taskNames() const { return m_impl->suite.taskNames(); }

std::vector<TaskInfo> KitSession::tasks() const {
    std::vector<TaskInfo> out;
    for (const auto& t : m_impl->suite.tasks) {
        TaskInfo i;
        i.name = t.task.name;
        i.type = demo::taskTypeName(t.task.type);
        i.dataset = t.task.dataset;
        i.metric = eval::metricName(t.task.metric);
        i.higherIsBetter = eval::higherIsBetter(t.task.metric);
        i.expertScore = t.expertScore;
        i.expertFile = t.expertFile;
        i.expertHash = t.expertHash;
        const auto& h = t.headConfig;
        i.head = h.kind == model::HeadKind::Classifier
                     ? "classifier, " + std::to_string(h.outputs) + " classes, " +
                           (h.pooling == model::Pooling::MeanPatches ? "mean pooling" : "class token")
                     : "dense, " + std::to_string(h.outputs) + (h.outputs == 1 ? " channel" : " classes") + " per pixel";
        out.push_back(i);
    }
    return out;
}

LiveResult KitSession::live(const LiveRequest& r, const CancelToken* cancel) {
    Impl& m = *m_impl;
    const auto t0 = Clock::now();
    if (!m.liveEngine || m.liveMethod != r.method) {
        m.liveEngine = std::make_unique<merge::MergeEngine>(specFor(m.suite, r.method, {}, {}));
        m.liveMethod = r.method;
    }
    const std::size_t T = m.suite.tasks.size();
    merge::ParamValues global;
    for (const auto& [k, v] : r.params) global[k] = v;
    std::vector<merge::ParamValues> perModel(T);
    for (std::size_t t = 0; t < T && t < r.taskWeights.size(); ++t) perModel[t]["weight"] = r.taskWeights[t];
    m.liveEngine->setParams(global, perModel);
    m.liveEngine->setLambdaSchedule({m.liveEngine->method().info().has("lambda") ? r.lambdaBlocks : std::vector<double>{}, {}});
    m.liveEngine->prepare(nullProgress(), cancel);
    const bool perTask = m.liveEngine->method().info().perTaskOutputs;
    const std::size_t outputs = perTask ? T : 1;
    m.liveBuffers.resize(outputs);
    std::vector<model::ParamMap> merged(outputs, m.suite.base);
    const auto& planned = m.liveEngine->problem().plan().merged;
    for (std::size_t o = 0; o < outputs; ++o) {
        m.liveEngine->applyToMemory(perTask ? static_cast<int>(o) : -1, m.liveBuffers[o], nullProgress(), cancel);
        for (std::size_t i = 0; i < planned.size(); ++i)
            merged[o][planned[i].name] = model::viewFloats(m.liveBuffers[o][i].data(), planned[i].shape);
    }
    LiveResult out;
    out.mergeSeconds = since(t0);
    const auto t1 = Clock::now();
    std::vector<const model::ParamMap*> views;
    for (std::size_t t = 0; t < T; ++t) views.push_back(&merged[perTask ? t : 0]);
    out.perTask = m.liveProxy->scorePerTask(views, cancel).at("task-alignment");
    out.proxySeconds = since(t1);
    double sum = 0;
    out.min = out.perTask.empty() ? 0 : out.perTask.front();
    for (double v : out.perTask) sum += v, out.min = std::fmin(out.min, v);
    out.mean = out.perTask.empty() ? 0 : sum / static_cast<double>(out.perTask.size());
    return out;
}

std::string KitSession::runSweep(const SweepJob& job, store::Experiment& experiment, const CommitFn& commit,
                                 ProgressSink& progress, const CancelToken* cancel) const {
    sweep::SweepOptions o;
    o.spec = job.spec;
    o.spec.seed = m_impl->options.seed;
    o.proxies = job.proxies;
    o.downstream.mode = eval::parseDownstreamMode(job.downstream);
    o.downstream.headSteps = job.headSteps;
    o.downstream.reprSteps = job.reprSteps;
    o.downstream.seed = m_impl->options.seed;
    o.featureCache = m_impl->options.featureCache;
    o.resume = job.resume;
    return sweep::runSweep(m_impl->suite, o, experiment, commit, progress, cancel);
}

void KitSession::saveMerged(const std::string& method, const std::map<std::string, double>& params,
                            const std::vector<double>& taskWeights, const std::string& path, int task, ProgressSink& progress,
                            const CancelToken* cancel, const std::map<std::string, std::string>& choices,
                            const std::vector<double>& lambdaBlocks) const {
    merge::MergeSpec spec = specFor(m_impl->suite, method, params, taskWeights);
    spec.lambda.blockCurve = lambdaBlocks;
    for (const auto& [k, v] : choices) spec.params[k] = v;
    if (!merge::findMethod(method).info().learned) {
        merge::MergeEngine engine(spec);
        engine.write(path, task, {}, progress, cancel);
        return;
    }
    const learned::LearnedResult r = learned::runLearnedMerge(m_impl->suite, method, spec.params, progress, cancel);
    nlohmann::json inputs = {{"base", {{"path", baseFile()}, {"xxh128", baseHash()}}}, {"models", nlohmann::json::array()}};
    for (const auto& t : m_impl->suite.tasks)
        inputs["models"].push_back({{"path", t.expertFile}, {"task", t.task.name}, {"xxh128", t.expertHash}});
    nlohmann::json learnedJson = {{"loss_first", r.artifacts.loss.empty() ? 0.0 : r.artifacts.loss.front()},
                                  {"loss_last", r.artifacts.loss.empty() ? 0.0 : r.artifacts.loss.back()},
                                  {"rows", r.artifacts.rows}, {"columns", r.artifacts.columns}, {"matrix", r.artifacts.matrix}};
    model::writeParams(path, r.merged,
                       {{"mergescope.recipe", merge::saveRecipe(spec)}, {"mergescope.inputs", inputs.dump()},
                        {"mergescope.kit", kitDir()}, {"mergescope.learned", learnedJson.dump()}});
}

KitInputs kitInputs(const std::string& kitDir) {
    const demo::KitManifest k = demo::loadKit(kitDir, true);
    KitInputs out;
    out.base = k.path(k.baseFile);
    for (const auto& t : k.tasks) out.experts.emplace_back(k.path(t.expertFile), t.task.name);
    return out;
}

std::string defaultDemoKitDir() { return demo::defaultKitDir(0); }
std::string defaultFeatureCacheDir() { return demo::defaultFeatureCacheDir(); }

std::string buildDemoKit(const std::string& dir, std::uint64_t seed, ProgressSink& progress, const CancelToken* cancel) {
    demo::KitOptions o;
    o.dir = dir;
    o.seed = seed;
    return demo::buildDemoKit(o, progress, cancel).dir;
}

}  // namespace ms::core::session
