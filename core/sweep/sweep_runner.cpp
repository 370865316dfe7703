#include "core/sweep/sweep_runner.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "core/demo/demo_kit.h"
#include "core/errors.h"
#include "core/learned/learned_merge.h"
#include "core/merge/merge_engine.h"
#include "core/merge/method_registry.h"
#include "core/merge/recipe.h"
#include "core/model/param_io.h"
#include "core/proxy/task_alignment.h"

namespace ms::core::sweep {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string readText(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return {};
    std::string s;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
    std::fclose(f);
    return s;
}

void bindKit(const eval::TaskSuite& suite, store::Experiment& e) {
    if (!e.inputs.empty()) {
        if (e.inputs.front().hash != suite.kit.baseHash)
            throw InvalidArgument("the experiment file holds sweeps of another kit (base " + e.inputs.front().path +
                                  "); use a new --out file for this kit");
        return;
    }
    e.kitDir = suite.kit.dir;
    e.kitManifest = readText(suite.kit.dir + "/kit.yaml");
    e.inputs.push_back({"base", "", suite.kit.path(suite.kit.baseFile), suite.kit.baseHash});
    for (const auto& t : suite.tasks) e.inputs.push_back({"expert", t.task.name, t.expertFile, t.expertHash});
}

merge::MergeSpec mergeSpecFor(const eval::TaskSuite& suite, const std::string& method) {
    merge::MergeSpec m;
    m.method = method;
    m.base = suite.kit.path(suite.kit.baseFile);
    for (const auto& t : suite.tasks) m.models.push_back({t.expertFile, t.task.name, {}});
    return m;
}

}  // namespace

std::string etaText(double elapsed, int done, int total) {
    if (done <= 0 || total <= done) return done >= total ? "done" : "…";
    const double left = elapsed / done * (total - done);
    char buf[32];
    if (left < 60) std::snprintf(buf, sizeof buf, "%.0fs", left);
    else if (left < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(left) / 60, static_cast<int>(left) % 60);
    else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(left) / 3600, static_cast<int>(left) % 3600 / 60);
    return buf;
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
    const std::vector<std::string> tasks = suite.taskNames();
    const std::size_t T = tasks.size();
    const SweepPlan plan = planSweep(options.spec, tasks);
    const bool relations = options.spec.kind == "relations";
    const std::string method = relations ? "task_arithmetic" : options.spec.method;
    const merge::MethodInfo& info = merge::findMethod(method).info();
    if (options.downstream.mode == eval::DownstreamMode::ReprRealign && info.perTaskOutputs)
        throw InvalidArgument("repr-realign trains one encoder for all tasks; " + method + " gives one model per task");
    for (const auto& name : plan.paramNames) {
        const auto [param, task] = splitLabel(name);
        if (relations && (name == "task" || name == "lambda")) continue;
        const merge::ParamSpec* p = info.find(param);
        if (!p) throw InvalidArgument("--grid " + name + ": " + method + " has no parameter '" + param + "' (see `mergescope-cli methods " + method + "`)");
        if (!task.empty() && !p->perModel) throw InvalidArgument("--grid " + name + ": '" + param + "' cannot be set per task");
    }
    std::vector<proxy::ProxyVariant> variants;
    for (const auto& n : options.proxies) variants.push_back(proxy::parseProxyVariant(n));

    // Fixed settings, then the engine (validates method, models, settings).
    merge::ParamValues fixedGlobal;
    std::vector<merge::ParamValues> fixedPerModel(T);
    for (const auto& s : options.spec.sets) merge::parseAssignment(s, fixedGlobal, fixedPerModel, T);
    // Learned methods (adamerging, calm) train on the kit per point; the others prepare and apply.
    std::unique_ptr<merge::MergeEngine> engine;
    if (!info.learned) {
        engine = std::make_unique<merge::MergeEngine>(mergeSpecFor(suite, method));
        engine->setParams(fixedGlobal, fixedPerModel);
        if (!options.spec.lambdaBlocks.empty()) {
            if (!info.has("lambda")) throw InvalidArgument(method + " has no λ: a per-block λ curve does not apply");
            engine->setLambdaSchedule({options.spec.lambdaBlocks, {}});
        }
    } else {
        const merge::MethodArgs check(info, fixedGlobal, fixedPerModel, T);  // validates the fixed settings now
        (void)check;
        if (!options.spec.lambdaBlocks.empty()) throw InvalidArgument(method + " learns its own coefficients: no λ curve");
    }

    bindKit(suite, experiment);
    const std::string specJson = options.spec.toJson(), optionsJson = sweepOptionsJson(suite, options);
    store::SweepRecord* record = nullptr;
    if (options.resume)
        for (auto it = experiment.sweeps.rbegin(); it != experiment.sweeps.rend() && !record; ++it)
            if (it->spec == specJson && it->options == optionsJson) record = &*it;
    if (!record) {
        store::SweepRecord r;
        r.id = experiment.nextSweepId();
        r.kind = relations ? "relations" : "merge";
        r.method = method;
        r.spec = specJson;
        r.options = optionsJson;
        r.tasks = tasks;
        r.paramNames = plan.paramNames;
        for (const auto& v : variants) r.proxies.push_back(v.name);
        r.downstream = eval::downstreamModeName(options.downstream.mode);
        r.created = store::isoNow();
        merge::MergeSpec ms = mergeSpecFor(suite, method);
        ms.params = fixedGlobal;
        ms.lambda.blockCurve = options.spec.lambdaBlocks;
        for (std::size_t t = 0; t < T; ++t) ms.models[t].params = fixedPerModel[t];
        r.recipe = merge::saveRecipe(ms);
        experiment.sweeps.push_back(std::move(r));
        record = &experiment.sweeps.back();
    }
    const std::string id = record->id;
    record->status = "running";
    record->plannedPoints = static_cast<int>(plan.points.size());

    // Points still to do, those sharing a prepared state next to each other.
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < plan.points.size(); ++i)
        if (record->findPoint(plan.points[i]) < 0) todo.push_back(i);
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
    const int total = static_cast<int>(plan.points.size());
    const int already = total - static_cast<int>(todo.size());
    progress.report("preparing proxy", 0, 1);
    const std::unique_ptr<proxy::TaskAlignmentProxy> proxy =
        variants.empty() ? nullptr
                         : std::make_unique<proxy::TaskAlignmentProxy>(suite, variants, options.featureCache, nullProgress(), cancel);
    const std::size_t outputs = info.perTaskOutputs ? T : 1;
    std::vector<std::vector<std::vector<float>>> buffers(outputs);
    static const std::vector<merge::PlannedTensor> kNone;
    const auto& planned = engine ? engine->problem().plan().merged : kNone;
    const auto start = Clock::now();
    try {
        for (std::size_t k = 0; k < todo.size(); ++k) {
            if (cancel) cancel->throwIfCancelled();
            const std::vector<double>& values = plan.points[todo[k]];
            progress.report("sweep " + id + ": point " + std::to_string(already + k + 1) + "/" + std::to_string(total) +
                                ", ETA " + etaText(since(start), static_cast<int>(k), static_cast<int>(todo.size())),
                            already + k, static_cast<std::uint64_t>(total));
            store::PointRecord point;
            point.params = values;
            auto t0 = Clock::now();
            merge::ParamValues global = fixedGlobal;
            std::vector<merge::ParamValues> perModel = fixedPerModel;
            for (std::size_t c = 0; c < values.size(); ++c) {
                if (relations && plan.paramNames[c] == "task") {
                    for (std::size_t t = 0; t < T; ++t) perModel[t]["weight"] = (static_cast<double>(t) == values[c]) ? 1.0 : 0.0;
                    continue;
                }
                const auto [param, task] = splitLabel(plan.paramNames[c]);
                if (task.empty()) global[param] = values[c];
                else perModel[static_cast<std::size_t>(std::find(tasks.begin(), tasks.end(), task) - tasks.begin())][param] = values[c];
            }
            std::vector<model::ParamMap> merged(outputs, suite.base);
            if (info.learned) {
                const std::string prefix = "sweep " + id + ": point " + std::to_string(already + k + 1) + "/" + std::to_string(total) + ", ";
                CallbackProgress inner([&](const std::string& stage, std::uint64_t d, std::uint64_t t) {
                    progress.report(prefix + stage, d, t);
                });
                learned::LearnedResult res = learned::runLearnedMerge(suite, method, global, inner, cancel);
                merged[0] = std::move(res.merged);
                const auto& a = res.artifacts;
                point.artifacts["loss"] = {a.loss, {a.loss.size()}, {}, {}};
                store::Artifact m;
                for (const auto& row : a.matrix) m.values.insert(m.values.end(), row.begin(), row.end());
                m.shape = {a.matrix.size(), a.matrix.empty() ? 0 : a.matrix.front().size()};
                m.rows = a.rows;
                m.columns = a.columns;
                point.artifacts[method == "adamerging" ? "coefficients" : "mask_density"] = std::move(m);
            } else {
                engine->setParams(global, perModel);
                engine->prepare(nullProgress(), cancel);
                for (std::size_t o = 0; o < outputs; ++o) {
                    engine->applyToMemory(info.perTaskOutputs ? static_cast<int>(o) : -1, buffers[o], nullProgress(), cancel);
                    for (std::size_t i = 0; i < planned.size(); ++i)
                        merged[o][planned[i].name] = model::viewFloats(buffers[o][i].data(), planned[i].shape);
                }
            }
            std::vector<const model::ParamMap*> perTask;
            for (std::size_t t = 0; t < T; ++t) perTask.push_back(&merged[info.perTaskOutputs ? t : 0]);
            point.mergeSeconds = since(t0);
            if (proxy) {
                t0 = Clock::now();
                point.proxy = proxy->scorePerTask(perTask, cancel);
                point.proxySeconds = since(t0);
            }
            if (options.downstream.mode != eval::DownstreamMode::None) {
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
            if (k + 1 == todo.size()) r.status = "complete";
            commit(experiment, r, true);
        }
    } catch (const Cancelled&) {
        store::SweepRecord& r = findRecord();
        r.status = "cancelled";
        r.updated = store::isoNow();
        commit(experiment, r, false);
        throw;
    }
    store::SweepRecord& r = findRecord();
    if (r.status != "complete") {  // nothing was left to do
        r.status = "complete";
        r.updated = store::isoNow();
        commit(experiment, r, false);
    }
    progress.report("sweep " + id + " done", static_cast<std::uint64_t>(total), static_cast<std::uint64_t>(total));
    return id;
}

}  // namespace ms::core::sweep
