#include "core/sweep/sweep_point.h"

#include <algorithm>
#include <map>

#include "core/errors.h"
#include "core/kit/kit_file.h"

namespace ms::core::sweep {

void bindToInputs(merge::MergeSpec& spec, const std::vector<InputRecord>& inputs) {
    const InputRecord* base = nullptr;
    std::vector<const InputRecord*> experts;
    for (const auto& in : inputs) {
        if (in.role == "base") base = &in;
        else if (in.role == "expert") experts.push_back(&in);
    }
    if (!base || experts.empty()) throw InvalidArgument("the experiment records no base and experts to merge");
    if (!spec.models.empty() && spec.models.size() != experts.size())
        throw InvalidArgument("the merge settings name " + std::to_string(spec.models.size()) + " models, but the kit has " +
                              std::to_string(experts.size()) + " tasks");
    std::vector<merge::ModelRef> bound;
    std::vector<bool> used(spec.models.size(), false);
    for (std::size_t i = 0; i < experts.size(); ++i) {
        merge::ModelRef ref{experts[i]->path, experts[i]->task, {}, experts[i]->hash};
        if (!spec.models.empty()) {
            std::size_t from = i;
            const auto named = std::find_if(spec.models.begin(), spec.models.end(),
                                            [&](const merge::ModelRef& m) { return !m.task.empty() && m.task == experts[i]->task; });
            if (named != spec.models.end()) from = static_cast<std::size_t>(named - spec.models.begin());
            else if (!spec.models[i].task.empty())
                throw InvalidArgument("the merge settings name task '" + spec.models[i].task + "', which the kit does not have");
            ref.params = spec.models[from].params;
            used[from] = true;
        }
        bound.push_back(std::move(ref));
    }
    if (std::find(used.begin(), used.end(), false) != used.end())
        throw InvalidArgument("the merge settings name a task twice or one the kit does not have");
    spec.base = base->path;
    spec.baseHash = base->hash;
    spec.models = std::move(bound);
}

merge::MergeSpec pointSpec(const SweepSpec& spec, const std::vector<std::string>& paramNames, const std::vector<double>& values) {
    merge::MergeSpec m = spec.merge;
    if (values.size() != paramNames.size())
        throw InvalidArgument("a point has " + std::to_string(values.size()) + " values for " + std::to_string(paramNames.size()) +
                              " swept parameters");
    for (std::size_t c = 0; c < values.size(); ++c) {
        if (spec.kind == SweepKind::Relations && paramNames[c] == "task") {  // θ0 + λ τ_t: one task's vector
            for (std::size_t t = 0; t < m.models.size(); ++t)
                m.models[t].params["weight"] = static_cast<double>(t) == values[c] ? 1.0 : 0.0;
            continue;
        }
        const auto [param, task] = splitLabel(paramNames[c]);
        m.set(param, values[c], task);
    }
    return m;
}

void bindToKit(merge::MergeSpec& spec, const KitBinding& kit) {
    bindToInputs(spec, kit.inputs);
    for (const auto& g : kit.pickleAllow)
        if (std::find(spec.open.torch.inertGlobals.begin(), spec.open.torch.inertGlobals.end(), g) == spec.open.torch.inertGlobals.end())
            spec.open.torch.inertGlobals.push_back(g);
    if (kit.basePrefix.empty() || !spec.filter.include.empty()) return;
    spec.filter.include.push_back(kit::prefixPattern(kit.basePrefix));
}

}  // namespace ms::core::sweep
