#include "core/session/sweep_runner.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "core/errors.h"
#include "core/io/writer_lock.h"
#include "core/learned/suite_kit_context.h"
#include "core/merge/merge_engine.h"
#include "core/merge/method_registry.h"
#include "core/proxy/task_alignment.h"
#include "core/session/point_scorer.h"
#include "core/session/suite_loader.h"
#include "core/store/experiment_store.h"
#include "core/sweep/sweep_point.h"

namespace ms::core::session {

using namespace ms::core::sweep;  // specs, plans, shards and points: this file runs them

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void bindKit(const eval::TaskSuite& suite, store::Experiment& e) {
    if (!e.inputs.empty()) {
        if (e.inputs.front().hash != suite.kit.baseHash)
            throw InvalidArgument("the experiment file holds sweeps of another kit (base " + e.inputs.front().path +
                                  "); use a new --out file for this kit");
        return;
    }
    e.kitDir = suite.kit.path;
    e.kitManifest = suite.kit.manifestText;
    e.inputs = kitBinding(suite).inputs;
}

// Checks the swept columns against the method before anything runs.
void checkColumns(const SweepPlan& plan, const merge::MethodInfo& info, bool relations) {
    for (const auto& name : plan.paramNames) {
        const auto [param, task] = splitLabel(name);
        if (relations && (name == "task" || name == "lambda")) continue;
        const merge::ParamSpec* p = info.find(param);
        if (!p)
            throw InvalidArgument("--grid " + name + ": " + info.name + " has no parameter '" + param + "' (see `mergescope-cli methods " +
                                  info.name + "`)");
        if (!task.empty() && !p->perModel) throw InvalidArgument("--grid " + name + ": '" + param + "' cannot be set per task");
    }
}

}  // namespace

eval::SuiteOptions suiteOptionsOf(const sweep::DataOptions& data) {
    eval::SuiteOptions o;
    o.probeSize = data.probeSize;
    o.realignSamples = data.realignSamples;
    o.evalLimit = data.evalLimit;
    o.seed = data.seed;
    return o;
}

sweep::DataOptions dataOptionsOf(const eval::SuiteOptions& suite) {
    return {suite.probeSize, suite.realignSamples, suite.evalLimit, suite.seed};
}

// ---- planning and checking ------------------------------------------------------------------

struct SweepRun::Impl {
    const eval::TaskSuite& suite;
    SweepOptions options;
    SweepSpec spec;                   // bound to the kit, canonical
    SweepPlan plan;                   // computed once
    std::vector<std::size_t> mine;    // this shard's points (plan indices)
    const merge::MethodInfo* info = nullptr;
    std::vector<proxy::ProxyVariant> variants;
    std::string specJson;  // the spec's stored form: resume matches records by it
    learned::SuiteKitContext kit;
    std::unique_ptr<merge::MergeEngine> engine;
    Impl(const eval::TaskSuite& s, SweepOptions o) : suite(s), options(std::move(o)), kit(s) {}
};

namespace {

// Everything about the sweep that can be wrong, before anything runs.
void checkSweep(const eval::TaskSuite& suite, const SweepOptions& o, const SweepPlan& plan, const merge::MethodInfo& info) {
    if (o.scoring.downstream.mode == eval::DownstreamMode::ReprRealign && info.perTaskOutputs)
        throw InvalidArgument("repr-realign trains one encoder for all tasks; " + info.name + " gives one model per task");
    checkColumns(plan, info, o.spec.kind == store::SweepKind::Relations);
    if (const auto problems = eval::downstreamProblems(suite, o.scoring.downstream.mode); !problems.empty())
        throw InvalidArgument(problems.front());
    if (!o.spec.merge.lambda.empty() && !info.has("lambda"))
        throw InvalidArgument(info.name + " has no λ: a per-block λ curve or λ override does not apply");
}

// Points of `plan` sharing a prepared state next to each other (the order they are scored in).
void groupByPreparation(std::vector<std::size_t>& todo, const SweepPlan& plan, const merge::MethodInfo& info) {
    std::vector<std::size_t> columns;
    for (std::size_t c = 0; c < plan.paramNames.size(); ++c) {
        const merge::ParamSpec* p = info.find(splitLabel(plan.paramNames[c]).first);
        if (p && p->affectsPrepare) columns.push_back(c);
    }
    std::stable_sort(todo.begin(), todo.end(), [&](std::size_t a, std::size_t b) {
        for (std::size_t c : columns)
            if (plan.points[a][c] != plan.points[b][c]) return plan.points[a][c] < plan.points[b][c];
        return false;
    });
}

void emit(const SweepEventFn& onEvent, SweepEvent::Kind kind, const sweep::SweepProgress& progress,
          const store::SweepRecord* sweep = nullptr, const store::Experiment* experiment = nullptr, std::string message = "") {
    if (!onEvent) return;
    SweepEvent e;
    e.kind = kind;
    e.progress = progress;
    e.sweep = sweep;
    e.experiment = experiment;
    e.message = std::move(message);
    onEvent(e);
}

}  // namespace

SweepRun::SweepRun(const eval::TaskSuite& suite, SweepOptions options) : m(std::make_unique<Impl>(suite, std::move(options))) {
    const std::vector<std::string> tasks = suite.taskNames();
    m->plan = planSweep(m->options.spec, tasks);
    m->mine = shardPoints(m->plan.points.size(), m->options.shard);
    m->spec = m->options.spec;
    m->info = &merge::findMethod(m->spec.merge.method).info();
    checkSweep(suite, m->options, m->plan, *m->info);
    auto& scoring = m->options.scoring;
    for (const auto& n : scoring.proxies) m->variants.push_back(proxy::parseProxyVariant(n));
    scoring.proxies.clear();  // as the points key their scores ("tokens-cosine" is "task-alignment")
    for (const auto& v : m->variants) scoring.proxies.push_back(v.name);
    scoring.data = dataOptionsOf(suite.options);  // the images this suite drew
    // The settings, bound to the kit's files; every point's settings validated before any work.
    sweep::bindToKit(m->spec.merge, kitBinding(suite));
    m->spec.merge = merge::canonical(m->spec.merge);  // "--set density=0.2" and the panel's 0.2 are one sweep
    for (const auto& values : m->plan.points) {
        const merge::MergeSpec p = pointSpec(m->spec, m->plan.paramNames, values);
        (void)merge::methodArgsFor(p, *m->info);
    }
    m->engine = std::make_unique<merge::MergeEngine>(m->spec.merge, &m->kit);  // opens the inputs, checks they fit
    m->specJson = m->spec.toJson();
}

SweepRun::~SweepRun() = default;
const SweepPlan& SweepRun::plan() const { return m->plan; }
const merge::MergeSpec& SweepRun::settings() const { return m->spec.merge; }

// ---- the record ---------------------------------------------------------------------------

store::SweepRecord& SweepRun::openRecord(store::Experiment& experiment) const {
    bindKit(m->suite, experiment);
    if (m->options.resume)
        for (auto it = experiment.sweeps.rbegin(); it != experiment.sweeps.rend(); ++it)
            if (it->spec.toJson() == m->specJson && it->scoring == m->options.scoring && it->shard == m->options.shard.text())
                return *it;
    store::SweepRecord r;
    r.id = experiment.nextSweepId();
    r.spec = m->spec;
    r.scoring = m->options.scoring;
    r.tasks = m->suite.taskNames();
    r.paramNames = m->plan.paramNames;
    if (m->options.scoring.downstream.mode != sweep::DownstreamMode::None)
        for (const auto& t : m->suite.tasks)
            for (kit::Metric metric : kit::metricsOf(t.task.type))
                if (std::find(r.metricNames.begin(), r.metricNames.end(), kit::metricName(metric)) == r.metricNames.end())
                    r.metricNames.push_back(kit::metricName(metric));
    r.created = store::isoNow();
    r.shard = m->options.shard.text();
    experiment.sweeps.push_back(std::move(r));
    return experiment.sweeps.back();
}

// This shard's points not yet in the record (values come from the same plan of the same spec, so
// they compare exactly; a set keeps resuming 100k points fast), grouped by preparation.
std::vector<std::size_t> SweepRun::pointsToDo(const store::SweepRecord& record) const {
    std::set<std::vector<double>> done;
    for (const auto& p : record.points) done.insert(p.params);
    std::vector<std::size_t> todo;
    for (std::size_t i : m->mine)
        if (!done.count(m->plan.points[i])) todo.push_back(i);
    groupByPreparation(todo, m->plan, *m->info);
    return todo;
}

// ---- running ------------------------------------------------------------------------------

void SweepRun::scoreAll(store::Experiment& experiment, const std::string& id, const CommitFn& commit, const SweepEventFn& onEvent,
                        const CancelToken* cancel) {
    const std::vector<std::size_t> todo = pointsToDo(*experiment.findSweep(id));
    const int total = static_cast<int>(m->mine.size()), already = total - static_cast<int>(todo.size());
    SweepProgress state{id, already, total, -1, "preparing proxy"};
    emit(onEvent, SweepEvent::Kind::Progress, state);
    const auto proxy = m->variants.empty() ? nullptr
                                           : std::make_unique<proxy::TaskAlignmentProxy>(m->suite, m->variants, m->options.featureCache,
                                                                                         nullProgress(), cancel);
    PointScorer scorer(m->suite, *m->engine, proxy.get());
    const auto start = Clock::now();
    auto lastStage = Clock::now();
    const auto stage = [&](const std::string& what) {
        state.stage = what;
        emit(onEvent, SweepEvent::Kind::Progress, state);
    };
    // Inner progress (a learned method's steps, downstream training) as stages, at most ~10 Hz.
    CallbackProgress inner([&](const std::string& what, std::uint64_t d, std::uint64_t t) {
        if (since(lastStage) < 0.1) return;
        lastStage = Clock::now();
        stage(what + " " + std::to_string(d) + "/" + std::to_string(t));
    });
    for (std::size_t k = 0; k < todo.size(); ++k) {
        if (cancel) cancel->throwIfCancelled();
        const std::vector<double>& values = m->plan.points[todo[k]];
        state.done = already + static_cast<int>(k);
        state.etaSeconds = etaSeconds(since(start), static_cast<int>(k), static_cast<int>(todo.size()));
        store::PointRecord point = scorer.score(pointSpec(m->spec, m->plan.paramNames, values), m->options.scoring.downstream, stage, inner, cancel);
        point.params = values;
        store::SweepRecord& r = *experiment.findSweep(id);
        r.points.push_back(std::move(point));
        r.updated = store::isoNow();
        if (k + 1 == todo.size()) r.status = store::SweepStatus::Complete;
        commit(experiment, r, true);
        emit(onEvent, SweepEvent::Kind::PointCommitted, state, &r);
    }
}

std::string SweepRun::run(store::Experiment& experiment, const CommitFn& commit, const SweepEventFn& onEvent, const CancelToken* cancel) {
    // One intra-op thread on this (the calling) thread: next to OpenBLAS's own pool, two made a
    // point 2x slower on the demo kit (docs/perf.md). Torch keeps this setting per thread.
    at::set_num_threads(1);
    store::SweepRecord& opened = openRecord(experiment);
    const std::string id = opened.id;
    opened.status = store::SweepStatus::Running;
    opened.plannedPoints = static_cast<int>(m->mine.size());
    const auto finish = [&](store::SweepStatus status, bool commitIt) {
        store::SweepRecord& r = *experiment.findSweep(id);
        if (commitIt) {
            r.status = status;
            r.updated = store::isoNow();
            commit(experiment, r, false);
        }
        const int total = static_cast<int>(m->mine.size());
        emit(onEvent, SweepEvent::Kind::Finished, {id, static_cast<int>(r.points.size()), total, 0, store::sweepStatusName(r.status)}, &r);
    };
    emit(onEvent, SweepEvent::Kind::Started, {id, static_cast<int>(opened.points.size()), opened.plannedPoints, -1, "starting"}, &opened,
         &experiment);
    try {
        scoreAll(experiment, id, commit, onEvent, cancel);
    } catch (const Cancelled&) {
        finish(store::SweepStatus::Cancelled, true);
        throw;
    } catch (const std::exception& e) {
        emit(onEvent, SweepEvent::Kind::Failed, {id, 0, 0, -1, "failed"}, nullptr, nullptr, e.what());
        throw;
    }
    // Nothing was left to do: the status alone changes.
    finish(store::SweepStatus::Complete, experiment.findSweep(id)->status != store::SweepStatus::Complete);
    return id;
}

std::string SweepRun::runInto(const std::string& path, const store::Experiment& fresh, const SweepEventFn& onEvent,
                              const CancelToken* cancel) {
    const auto lock = io::WriterLock::unlessHeldHere(path);  // held from before the read to the last commit
    store::Experiment experiment = std::filesystem::exists(path) ? store::readExperiment(path) : fresh;
    store::ExperimentSaver saver(path);  // appends points; rewrites at the start and the end
    const std::string id =
        run(experiment, [&](const store::Experiment& e, const store::SweepRecord& r, bool added) { saver.save(e, r, added); }, onEvent, cancel);
    saver.close();
    return id;
}

std::string runSweep(const eval::TaskSuite& suite, const SweepOptions& options, store::Experiment& experiment, const CommitFn& commit,
                     ProgressSink& progress, const CancelToken* cancel) {
    return SweepRun(suite, options).run(experiment, commit, [&](const SweepEvent& e) {
        const auto& p = e.progress;
        progress.report(progressText(p), static_cast<std::uint64_t>(p.done), static_cast<std::uint64_t>(std::max(p.total, 1)));
    }, cancel);
}

}  // namespace ms::core::session
