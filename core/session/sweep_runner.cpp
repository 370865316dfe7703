#include "core/session/sweep_runner.h"

#include "core/session/suite_loader.h"

#include "core/kit/kit_file.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <set>

#include <ATen/Parallel.h>

#include "core/errors.h"
#include "core/learned/suite_kit_context.h"
#include "core/merge/merge_engine.h"
#include "core/merge/method_registry.h"
#include "core/merge/recipe.h"
#include "core/model/param_io.h"
#include "core/proxy/task_alignment.h"
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

eval::SuiteOptions suiteOptionsOf(const store::SweepRecord& record) {
    eval::SuiteOptions o;
    try {
        const auto d = nlohmann::json::parse(record.options).at("data");
        o.probeSize = d.at("probe_size").get<int>();
        o.realignSamples = d.at("realign_samples").get<int>();
        o.evalLimit = d.at("eval_limit").get<int>();
        o.seed = d.at("seed").get<std::uint64_t>();
    } catch (const nlohmann::json::exception& e) {
        throw InvalidArgument("sweep " + record.id + ": its options do not say which data it ran on (" + e.what() + ")");
    }
    return o;
}

std::string sweepOptionsJson(const eval::TaskSuite& suite, const SweepOptions& o) {
    nlohmann::ordered_json j;
    j["proxies"] = o.proxies;
    const auto& d = o.downstream;
    j["downstream"] = {{"mode", eval::downstreamModeName(d.mode)}, {"head_steps", d.headSteps}, {"head_batch", d.headBatch},
                       {"head_lr", d.headLr}, {"repr_steps", d.reprSteps}, {"repr_batch", d.reprBatch},
                       {"repr_lr", d.reprLr}, {"adapter_rank", d.adapterRank}, {"seed", d.seed}};
    const auto& s = suite.options;
    j["data"] = {{"probe_size", s.probeSize}, {"realign_samples", s.realignSamples}, {"eval_limit", s.evalLimit}, {"seed", s.seed}};
    return j.dump();
}

std::string runSweep(const eval::TaskSuite& suite, const SweepOptions& options, store::Experiment& experiment,
                     const CommitFn& commit, ProgressSink& progress, const CancelToken* cancel) {
    // One intra-op thread on this (the calling) thread: next to OpenBLAS's own pool, two made a
    // point 2x slower on the demo kit (docs/perf.md). Torch keeps this setting per thread.
    at::set_num_threads(1);
    const std::vector<std::string> tasks = suite.taskNames();
    const std::size_t T = tasks.size();
    const SweepPlan plan = planSweep(options.spec, tasks);
    const std::vector<std::size_t> mine = shardPoints(plan.points.size(), options.shard);
    const bool relations = options.spec.kind == store::SweepKind::Relations;
    SweepSpec spec = options.spec;
    if (relations) spec.merge.method = "task_arithmetic";
    const merge::MethodInfo& info = merge::findMethod(spec.merge.method).info();
    if (options.downstream.mode == eval::DownstreamMode::ReprRealign && info.perTaskOutputs)
        throw InvalidArgument("repr-realign trains one encoder for all tasks; " + info.name + " gives one model per task");
    checkColumns(plan, info, relations);
    if (const auto problems = eval::downstreamProblems(suite, options.downstream.mode); !problems.empty())
        throw InvalidArgument(problems.front());
    if (!spec.merge.lambda.empty() && !info.has("lambda"))
        throw InvalidArgument(info.name + " has no λ: a per-block λ curve or λ override does not apply");
    std::vector<proxy::ProxyVariant> variants;
    for (const auto& n : options.proxies) variants.push_back(proxy::parseProxyVariant(n));

    // The settings, bound to the kit's files; every point's settings validated before any work.
    sweep::bindToKit(spec.merge, kitBinding(suite));
    spec.merge = merge::canonical(spec.merge);  // "--set density=0.2" and the panel's 0.2 are one sweep
    for (const auto& values : plan.points) {
        const merge::MergeSpec p = pointSpec(spec, plan.paramNames, values);
        (void)merge::MethodArgs(info, p.params, p.perModelParams(), p.models.size());
    }
    const learned::SuiteKitContext kit(suite);
    merge::MergeEngine engine(spec.merge, &kit);  // opens the inputs, checks they fit

    bindKit(suite, experiment);
    const std::string specJson = spec.toJson(), optionsJson = sweepOptionsJson(suite, options);
    store::SweepRecord* record = nullptr;
    if (options.resume)
        for (auto it = experiment.sweeps.rbegin(); it != experiment.sweeps.rend() && !record; ++it)
            if (it->spec == specJson && it->options == optionsJson && it->shard == options.shard.text()) record = &*it;
    if (!record) {
        store::SweepRecord r;
        r.id = experiment.nextSweepId();
        r.kind = spec.kind;
        r.method = info.name;
        r.spec = specJson;
        r.options = optionsJson;
        r.tasks = tasks;
        r.paramNames = plan.paramNames;
        for (const auto& v : variants) r.proxies.push_back(v.name);
        r.downstream = eval::downstreamModeName(options.downstream.mode);
        r.created = store::isoNow();
        r.recipe = merge::saveRecipe(spec.merge);
        r.shard = options.shard.text();
        experiment.sweeps.push_back(std::move(r));
        record = &experiment.sweeps.back();
    }
    const std::string id = record->id;
    record->status = store::SweepStatus::Running;
    // This shard's points (all of them for a whole sweep), those done left out (values come from the
    // same plan of the same spec, so they compare exactly; a set keeps resuming 100k points fast).
    record->plannedPoints = static_cast<int>(mine.size());
    std::set<std::vector<double>> done;
    for (const auto& p : record->points) done.insert(p.params);
    // Points still to do, those sharing a prepared state next to each other.
    std::vector<std::size_t> todo;
    for (std::size_t i : mine)
        if (!done.count(plan.points[i])) todo.push_back(i);
    std::vector<std::size_t> prepareColumns;
    for (std::size_t c = 0; c < plan.paramNames.size(); ++c) {
        const merge::ParamSpec* p = info.find(splitLabel(plan.paramNames[c]).first);
        if (p && p->affectsPrepare) prepareColumns.push_back(c);
    }
    std::stable_sort(todo.begin(), todo.end(), [&](std::size_t a, std::size_t b) {
        for (std::size_t c : prepareColumns)
            if (plan.points[a][c] != plan.points[b][c]) return plan.points[a][c] < plan.points[b][c];
        return false;
    });

    auto findRecord = [&]() -> store::SweepRecord& { return *experiment.findSweep(id); };
    const int total = static_cast<int>(mine.size());
    const int already = total - static_cast<int>(todo.size());
    progress.report("preparing proxy", 0, 1);
    const std::unique_ptr<proxy::TaskAlignmentProxy> proxy =
        variants.empty() ? nullptr
                         : std::make_unique<proxy::TaskAlignmentProxy>(suite, variants, options.featureCache, nullProgress(), cancel);
    const std::size_t outputs = info.perTaskOutputs ? T : 1;
    std::vector<std::vector<std::vector<float>>> buffers(outputs);
    const auto& planned = engine.problem().plan().merged;
    const auto start = Clock::now();
    SweepProgress state{id, already, total, -1, ""};
    const auto stage = [&](const std::string& what) {
        state.stage = what;
        if (options.onProgress) options.onProgress(state);
    };
    try {
        for (std::size_t k = 0; k < todo.size(); ++k) {
            if (cancel) cancel->throwIfCancelled();
            const std::vector<double>& values = plan.points[todo[k]];
            const std::string prefix = "sweep " + id + ": point " + std::to_string(already + k + 1) + "/" + std::to_string(total);
            state.done = already + static_cast<int>(k);
            state.etaSeconds = etaSeconds(since(start), static_cast<int>(k), static_cast<int>(todo.size()));
            progress.report(prefix, already + k, static_cast<std::uint64_t>(total));
            stage("merging");
            store::PointRecord point;
            point.params = values;
            auto t0 = Clock::now();
            const merge::MergeSpec settings = pointSpec(spec, plan.paramNames, values);
            engine.update(settings);
            // A learned method learns here (its steps are the stages); the others prepare once per configuration.
            auto lastStage = Clock::now();
            CallbackProgress inner([&](const std::string& what, std::uint64_t d, std::uint64_t t) {
                progress.report(prefix + ", " + what, d, t);
                if (since(lastStage) < 0.1) return;  // typed progress at most ~10 Hz
                lastStage = Clock::now();
                stage(what + " " + std::to_string(d) + "/" + std::to_string(t));
            });
            engine.prepare(inner, cancel);
            std::vector<model::ParamMap> merged(outputs);
            for (std::size_t o = 0; o < outputs; ++o) {
                engine.applyToMemory(info.perTaskOutputs ? static_cast<int>(o) : -1, buffers[o], nullProgress(), cancel);
                model::ParamMap views;
                for (std::size_t i = 0; i < planned.size(); ++i) views[planned[i].name] = model::viewFloats(buffers[o][i].data(), planned[i].shape);
                merged[o] = eval::toEncoder(suite, views);
            }
            point.artifacts = engine.artifacts();
            std::vector<const model::ParamMap*> perTask;
            for (std::size_t t = 0; t < T; ++t) perTask.push_back(&merged[info.perTaskOutputs ? t : 0]);
            point.mergeSeconds = since(t0);
            if (proxy) {
                stage("proxy");
                t0 = Clock::now();
                point.proxy = proxy->scorePerTask(perTask, cancel);
                point.proxySeconds = since(t0);
            }
            if (options.downstream.mode != eval::DownstreamMode::None) {
                stage(std::string("downstream (") + eval::downstreamModeName(options.downstream.mode) + ")");
                t0 = Clock::now();
                const auto d = eval::evaluateDownstream(suite, merged[0], options.downstream, cancel,
                                                        info.perTaskOutputs ? perTask : std::vector<const model::ParamMap*>{});
                point.metric = d.metric;
                point.normalized = d.normalized;
                point.downstreamSeconds = since(t0);
            }
            point.completedAt = store::isoNow();
            store::SweepRecord& r = findRecord();
            r.points.push_back(std::move(point));
            r.updated = store::isoNow();
            if (k + 1 == todo.size()) r.status = store::SweepStatus::Complete;
            commit(experiment, r, true);
        }
    } catch (const Cancelled&) {
        store::SweepRecord& r = findRecord();
        r.status = store::SweepStatus::Cancelled;
        r.updated = store::isoNow();
        commit(experiment, r, false);
        throw;
    }
    store::SweepRecord& r = findRecord();
    if (r.status != store::SweepStatus::Complete) {  // nothing was left to do
        r.status = store::SweepStatus::Complete;
        r.updated = store::isoNow();
        commit(experiment, r, false);
    }
    state.done = total;
    state.etaSeconds = 0;
    stage("done");
    progress.report("sweep " + id + " done", static_cast<std::uint64_t>(total), static_cast<std::uint64_t>(total));
    return id;
}

}  // namespace ms::core::session
