#include "core/store/gather.h"

#include <algorithm>
#include <map>

#include "core/errors.h"
#include "core/sweep/sweep_spec.h"

namespace ms::core::store {

namespace {

std::string inputsText(const std::vector<InputRecord>& inputs) {
    std::string s;
    for (const auto& in : inputs) s += in.role + ":" + in.task + ":" + in.hash + ";";
    return s;
}

// What differs between two parts' sweeps ("" when they are parts of one sweep).
std::string difference(const SweepRecord& a, const SweepRecord& b) {
    if (a.kind() != b.kind()) return "kind";
    if (a.method() != b.method()) return "method (" + a.method() + " vs " + b.method() + ")";
    if (a.spec.toJson() != b.spec.toJson()) return "sweep spec (grid, fixed settings, sampling or seed)";
    if (a.proxies() != b.proxies()) return "proxy variants";
    if (a.downstream() != b.downstream()) return "downstream mode";
    if (a.scoring != b.scoring) return "options (proxies, downstream mode or data sizes)";
    if (a.tasks != b.tasks) return "tasks";
    if (a.paramNames != b.paramNames) return "swept parameters";
    if (a.metricNames != b.metricNames) return "recorded metrics (parts of different releases)";
    return {};
}

int shardCount(const std::string& shard) { return shard.empty() ? 0 : sweep::parseShard(shard).count; }

}  // namespace

GatherResult gatherShards(const std::vector<std::pair<std::string, Experiment>>& parts) {
    if (parts.empty()) throw InvalidArgument("gather: no parts given");
    for (const auto& [path, e] : parts) {
        if (e.sweeps.size() != 1)
            throw InvalidArgument(path + ": holds " + std::to_string(e.sweeps.size()) +
                                  " sweeps; gather takes the files of `sweep --shard`, one sweep each");
    }
    const auto& [firstPath, first] = parts.front();
    const SweepRecord& ref = first.sweeps.front();
    int count = 0;
    for (const auto& [path, e] : parts) {
        if (inputsText(e.inputs) != inputsText(first.inputs))
            throw InvalidArgument(path + " and " + firstPath + " ran on different kits (the base's or an expert's hash differs)");
        const SweepRecord& s = e.sweeps.front();
        if (const std::string d = difference(s, ref); !d.empty())
            throw InvalidArgument(path + " and " + firstPath + " are parts of different sweeps (they differ in " + d + ")");
        const int n = shardCount(s.shard);
        if (n && count && n != count)
            throw InvalidArgument(path + " is a shard of " + std::to_string(n) + ", other parts of " + std::to_string(count));
        if (n) count = n;
    }

    // The plan, to order the points and find the missing ones.
    const sweep::SweepPlan plan = sweep::planSweep(ref.spec, ref.tasks);
    std::map<std::vector<double>, std::size_t> index;
    for (std::size_t i = 0; i < plan.points.size(); ++i) index.emplace(plan.points[i], i);

    GatherResult out;
    std::vector<const PointRecord*> byPlan(plan.points.size(), nullptr);
    std::string created = ref.created;
    for (const auto& [path, e] : parts) {
        const SweepRecord& s = e.sweeps.front();
        out.shards.push_back(s.shard.empty() ? "whole" : s.shard);
        if (!s.created.empty() && (created.empty() || s.created < created)) created = s.created;
        for (const auto& p : s.points) {
            const auto it = index.find(p.params);
            if (it == index.end()) throw InvalidArgument(path + ": sweep " + s.id + " holds a point its plan lacks");
            if (byPlan[it->second]) ++out.duplicates;
            else byPlan[it->second] = &p;
        }
    }
    Experiment& e = out.experiment;
    e.created = first.created;
    for (const auto& [path, part] : parts)
        if (!part.created.empty() && part.created < e.created) e.created = part.created;
    e.modified = isoNow();
    e.kitDir = first.kitDir;
    e.kitManifest = first.kitManifest;
    e.inputs = first.inputs;
    SweepRecord s = ref;
    s.id = "sweep-001";
    s.shard.clear();
    s.points.clear();
    s.created = created;
    s.updated = isoNow();
    s.plannedPoints = static_cast<int>(plan.points.size());
    for (std::size_t i = 0; i < byPlan.size(); ++i) {
        if (byPlan[i]) s.points.push_back(*byPlan[i]);
        else out.missing.push_back(static_cast<int>(i) + 1);
    }
    s.status = out.missing.empty() ? SweepStatus::Complete : SweepStatus::Cancelled;
    e.sweeps.push_back(std::move(s));
    return out;
}

}  // namespace ms::core::store
