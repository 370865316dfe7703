#include "core/store/sweep_points.h"

#include <map>

#include "core/errors.h"
#include "core/sweep/sweep_point.h"

namespace ms::core::store {

std::vector<int> pointNumbers(const SweepRecord& record) {
    const sweep::SweepPlan plan = sweep::planSweep(record.spec, record.tasks);
    if (plan.paramNames != record.paramNames)  // a record whose spec does not plan its points (hand-made, or thinner than the file)
        throw InvalidArgument("sweep " + record.id + ": its spec does not plan the points it holds");
    std::map<std::vector<double>, int> number;  // O(P log P): sweeps can hold 100,000 points
    for (std::size_t i = plan.points.size(); i-- > 0;) number[plan.points[i]] = static_cast<int>(i) + 1;  // the first wins
    std::vector<int> out;
    for (const auto& p : record.points) {
        const auto it = number.find(p.params);
        out.push_back(it == number.end() ? 0 : it->second);
    }
    return out;
}

merge::MergeSpec pointSpec(const Experiment& e, const std::string& sweepId, int number) {
    const SweepRecord* r = e.findSweep(sweepId);
    if (!r) {
        std::string ids;
        for (const auto& s : e.sweeps) ids += (ids.empty() ? "" : ", ") + s.id;
        throw InvalidArgument("no sweep '" + sweepId + "' in the experiment (its sweeps: " + (ids.empty() ? "none" : ids) + ")");
    }
    sweep::SweepSpec spec = r->spec;
    const sweep::SweepPlan plan = sweep::planSweep(spec, r->tasks);
    if (number < 1 || static_cast<std::size_t>(number) > plan.points.size())
        throw InvalidArgument("sweep " + sweepId + " has points 1 to " + std::to_string(plan.points.size()) + ", not " +
                              std::to_string(number));
    const auto& values = plan.points[static_cast<std::size_t>(number) - 1];
    if (r->findPoint(values) < 0)
        throw InvalidArgument("point " + std::to_string(number) + " of sweep " + sweepId +
                              " has not been computed yet (--resume the sweep first)");
    if (spec.merge.base.empty()) sweep::bindToInputs(spec.merge, e.inputs);  // schema-1 specs kept no paths
    return sweep::pointSpec(spec, r->paramNames, values);
}

}  // namespace ms::core::store
