#include "core/merge/merged_output.h"

#include <algorithm>
#include <filesystem>

#include "core/errors.h"
#include "core/io/output_path.h"
#include "core/merge/merge_engine.h"
#include "core/merge/method_registry.h"

namespace ms::core::merge {

std::string withTaskSuffix(const std::string& out, const std::string& task) {
    const std::filesystem::path p(out);
    return (p.parent_path() / (p.stem().string() + "-" + task + p.extension().string())).string();
}

OutputOutcome writeMerged(const MergeSpec& spec, const OutputRequest& request, const KitContext* kit, ProgressSink& progress,
                          const CancelToken* cancel) {
    const MethodInfo& info = findMethod(spec.method).info();
    const std::vector<std::string> tasks = spec.taskNames();
    std::vector<int> which;
    if (!request.task.empty()) {
        if (!info.perTaskOutputs) throw InvalidArgument("--task applies to per-task methods (tall_masks, emr), not " + info.name);
        const auto it = std::find(tasks.begin(), tasks.end(), request.task);
        if (it == tasks.end()) throw InvalidArgument("--task '" + request.task + "' is not one of the models' tasks");
        which.push_back(static_cast<int>(it - tasks.begin()));
    } else if (info.perTaskOutputs) {
        for (std::size_t i = 0; i < tasks.size(); ++i) which.push_back(static_cast<int>(i));
    } else {
        which.push_back(-1);
    }
    const auto pathFor = [&](int task) {
        return info.perTaskOutputs && request.task.empty() ? withTaskSuffix(request.path, tasks[static_cast<std::size_t>(task)])
                                                           : request.path;
    };
    std::vector<std::string> inputs = request.otherInputs;
    inputs.push_back(spec.base);
    for (const auto& m : spec.models) inputs.push_back(m.path);
    for (int task : which) io::checkOutputPath(pathFor(task), inputs);

    MergeEngine engine(spec, kit);
    if (request.verifyInputs) engine.verifyInputs(progress, cancel);
    OutputOutcome out;
    for (int task : which)
        for (auto& f : engine.write(pathFor(task), task, request.write, progress, cancel)) out.files.push_back(std::move(f));
    const auto& plan = engine.problem().plan();
    out.mergedTensors = plan.merged.size();
    out.copiedTensors = plan.copied.size();
    out.ignoredTensors = plan.ignored.size();
    out.mergedElements = plan.mergedElements;
    return out;
}

}  // namespace ms::core::merge
