#include "core/session/kit_session.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <filesystem>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/demo/demo_kit.h"
#include "core/errors.h"
#include "core/eval/kit_suite.h"
#include "core/eval/task_suite.h"
#include "core/io/source_factory.h"
#include "core/kit/kit_file.h"
#include "core/learned/suite_kit_context.h"
#include "core/merge/merge_engine.h"
#include "core/merge/merged_output.h"
#include "core/merge/method_registry.h"
#include "core/merge/recipe.h"
#include "core/model/encoder_weights.h"
#include "core/model/param_io.h"
#include "core/proxy/task_alignment.h"
#include "core/session/point_scorer.h"
#include "core/session/suite_loader.h"
#include "core/session/sweep_runner.h"
#include "core/sweep/sweep_point.h"

namespace ms::core::session {

namespace {

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
    std::unique_ptr<PointScorer> liveScorer;  // the sweep's "score point", on the live probe sets
    double liveImageSeconds = 0;  // measured: seconds per probe image of the live forward
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
    impl->suite = session::loadSuite(kitDir, so, progress, cancel);
    impl->liveSuite = withSmallProbes(impl->suite, options.liveProbeSize);
    progress.report("live proxy", 0, 1);
    impl->liveProxy = std::make_unique<proxy::TaskAlignmentProxy>(
        impl->liveSuite, std::vector<proxy::ProxyVariant>{proxy::parseProxyVariant("task-alignment")}, options.featureCache,
        nullProgress(), cancel);
    progress.report("live proxy", 1, 1);
    return std::unique_ptr<KitSession>(new KitSession(std::move(impl)));
}

const std::string& KitSession::kitDir() const { return m_impl->suite.kit.path; }

std::string KitSession::architecture() const {
    const auto& c = m_impl->suite.config();
    std::int64_t params = 0;
    for (const auto& [n, t] : m_impl->suite.base) params += t.numel();
    char buf[160];
    std::snprintf(buf, sizeof buf, "ViT %d×%d, patch %d, width %d, depth %d, %d heads (%.2f M parameters)", c.imageSize,
                  c.imageSize, c.patchSize, c.width, c.depth, c.heads, static_cast<double>(params) / 1e6);
    return buf;
}

std::string KitSession::baseFile() const { return m_impl->suite.kit.baseFile; }
std::string KitSession::baseHash() const { return m_impl->suite.kit.baseHash; }
std::vector<std::string> KitSession::taskNames() const { return m_impl->suite.taskNames(); }

std::vector<TaskInfo> KitSession::tasks() const {
    std::vector<TaskInfo> out;
    for (const auto& t : m_impl->suite.tasks) {
        TaskInfo i;
        i.name = t.task.name;
        i.type = kit::taskTypeName(t.task.type);
        i.dataset = t.task.dataset;
        i.metric = kit::metricName(t.task.metric);
        i.higherIsBetter = kit::higherIsBetter(t.task.metric);
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

merge::MergeSpec KitSession::bind(const merge::MergeSpec& settings) const {
    merge::MergeSpec spec = settings;
    sweep::bindToKit(spec, kitBinding(m_impl->suite));
    return spec;
}

LiveResult KitSession::live(const merge::MergeSpec& settings, const CancelToken* cancel, const std::function<void(const LiveResult&)>& onEstimate) {
    Impl& m = *m_impl;
    const merge::MethodInfo& info = merge::findMethod(settings.method).info();
    if (info.needsKit) throw InvalidArgument(info.name + " learns from the kit's data: queue it as a sweep; it is not previewed live");
    const merge::MergeSpec spec = bind(settings);
    if (!m.liveEngine || !m.liveEngine->accepts(spec)) {  // else the engine decides what to redo
        m.liveScorer.reset();
        m.liveEngine = std::make_unique<merge::MergeEngine>(spec);
        m.liveScorer = std::make_unique<PointScorer>(m.suite, *m.liveEngine, m.liveProxy.get());
    }
    const auto t0 = std::chrono::steady_clock::now();
    const auto since = [](std::chrono::steady_clock::time_point t) {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    };
    const double mergeSeconds = m.liveScorer->merge(spec, nullProgress(), cancel);
    const auto& encoders = m.liveScorer->perTask();
    // The images one stage forwards per probe image index: one per distinct (encoder, probe set).
    std::set<std::pair<const model::ParamMap*, const data::ImageSet*>> forwards;
    std::int64_t largest = 0;
    for (std::size_t t = 0; t < m.liveSuite.tasks.size(); ++t) {
        forwards.insert({encoders[t], m.liveSuite.tasks[t].probe.get()});
        largest = std::max<std::int64_t>(largest, m.liveSuite.tasks[t].probe->count);
    }
    const auto perIndex = static_cast<double>(std::max<std::size_t>(forwards.size(), 1));
    std::int64_t first = largest;  // images of the first stage (all: no estimate)
    if (onEstimate && m.options.liveEstimateSeconds > 0) {
        // As many as the time left after the merge allows at the measured speed (4 the first time).
        std::int64_t n = 4;
        if (m.liveImageSeconds > 0)
            n = static_cast<std::int64_t>((m.options.liveEstimateSeconds - mergeSeconds) / (m.liveImageSeconds * perIndex));
        first = std::clamp<std::int64_t>(n, 2, largest);
    }
    const auto stageStart = std::chrono::steady_clock::now();
    std::vector<at::Tensor> gains = m.liveProxy->imageGains(encoders, 0, first, cancel);
    const auto measure = [&](std::chrono::steady_clock::time_point start, std::int64_t images) {
        if (images > 0) m.liveImageSeconds = since(start) / (static_cast<double>(images) * perIndex);
    };
    measure(stageStart, first);
    const auto summarise = [&](const proxy::TaskAlignmentProxy::Estimate& e, LiveResult& r) {
        r.perTask = e.value;
        r.perTaskError = e.error;
        double sum = 0, err = 0;
        r.min = r.perTask.empty() ? 0 : r.perTask.front();
        for (std::size_t t = 0; t < r.perTask.size(); ++t) sum += r.perTask[t], err += r.perTaskError[t], r.min = std::fmin(r.min, r.perTask[t]);
        r.mean = r.perTask.empty() ? 0 : sum / static_cast<double>(r.perTask.size());
        r.meanError = r.perTask.empty() ? 0 : err / static_cast<double>(r.perTask.size());
        r.mergeSeconds = mergeSeconds;
        r.imagesTotal = static_cast<int>(largest);
    };
    LiveResult out;
    if (first < largest) {
        LiveResult early;
        summarise(m.liveProxy->estimate(gains), early);
        early.estimate = true;
        early.images = static_cast<int>(first);
        early.proxySeconds = since(t0) - mergeSeconds;
        onEstimate(early);
        out.estimateSeconds = since(t0);
        const auto restStart = std::chrono::steady_clock::now();
        const auto rest = m.liveProxy->imageGains(encoders, first, largest - first, cancel);
        measure(restStart, largest - first);
        for (std::size_t t = 0; t < gains.size(); ++t) gains[t] = at::cat({gains[t], rest[t]});
    }
    summarise(m.liveProxy->estimate(gains), out);
    out.images = static_cast<int>(largest);
    out.proxySeconds = since(t0) - mergeSeconds;
    if (m.options.densePreview) {
        const auto t0 = std::chrono::steady_clock::now();
        for (auto& d : eval::densePredictions(m.suite, m.liveScorer->perTask())) {
            const auto& task = m.suite.tasks[d.task];
            DensePreview p;
            p.task = task.task.name;
            p.taskIndex = static_cast<int>(d.task);
            p.type = kit::taskTypeName(task.task.type);
            p.width = d.width;
            p.height = d.height;
            p.channels = d.channels;
            p.classes = task.task.type == kit::TaskType::Segmentation ? task.task.outputs : 0;
            p.prediction = std::move(d.prediction);
            p.truth = std::move(d.truth);
            out.dense.push_back(std::move(p));
        }
        out.previewSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    return out;
}

std::string KitSession::runSweep(const SweepJob& job, const std::string& path, const store::Experiment& fresh,
                                 const SweepUpdateFn& onUpdate, const CancelToken* cancel) const {
    SweepOptions o = job;
    o.spec.seed = m_impl->options.seed;
    o.scoring.downstream.seed = m_impl->options.seed;
    o.featureCache = m_impl->options.featureCache;
    SweepRun run(m_impl->suite, o);
    return run.runInto(path, fresh, [&](const SweepEvent& e) {
        if (!onUpdate || e.kind == SweepEvent::Kind::Failed) return;  // a failure reaches the caller as the exception
        SweepUpdate u;
        u.kind = e.kind == SweepEvent::Kind::Started          ? SweepUpdate::Kind::Started
                 : e.kind == SweepEvent::Kind::PointCommitted ? SweepUpdate::Kind::PointCommitted
                 : e.kind == SweepEvent::Kind::Finished       ? SweepUpdate::Kind::Finished
                                                              : SweepUpdate::Kind::Progress;
        u.progress = e.progress;
        if (e.experiment) u.experiment = std::make_shared<const store::Experiment>(*e.experiment);
        if (e.sweep) {
            u.status = e.sweep->status;
            u.plannedPoints = e.sweep->plannedPoints;
            if (u.kind == SweepUpdate::Kind::PointCommitted) u.point = e.sweep->points.back();
        }
        onUpdate(u);
    }, cancel);
}

std::vector<std::string> KitSession::saveMerged(const merge::MergeSpec& settings, const std::string& path, const std::string& task,
                                                ProgressSink& progress, const CancelToken* cancel, const sweep::DataOptions* learnedOn,
                                                const std::map<std::string, std::string>& metadata) const {
    const merge::MergeSpec spec = bind(settings);
    merge::OutputRequest request;
    request.path = path;
    request.task = task;
    for (const auto& [k, v] : metadata) request.write.metadata[k] = v;
    const eval::TaskSuite* suite = &m_impl->suite;
    eval::TaskSuite other;  // the sweep's data, when a learned method must learn on it and it differs
    if (merge::findMethod(spec.method).info().needsKit && learnedOn) {
        eval::SuiteOptions so = session::suiteOptionsOf(*learnedOn);
        const auto& mine = suite->options;
        if (so.probeSize != mine.probeSize || so.realignSamples != mine.realignSamples || so.evalLimit != mine.evalLimit ||
            so.seed != mine.seed) {
            other = session::loadSuite(kitDir(), so, progress, cancel);
            suite = &other;
        }
    }
    const learned::SuiteKitContext kit(*suite);
    return merge::writeMerged(spec, request, &kit, progress, cancel).files;
}

std::string buildDemoKit(const std::string& dir, std::uint64_t seed, ProgressSink& progress, const CancelToken* cancel) {
    demo::KitOptions o;
    o.dir = dir;
    o.seed = seed;
    return demo::buildDemoKit(o, progress, cancel).dir;
}

}  // namespace ms::core::session
