// mergescope-cli merge --recipe R.yaml --out OUT
// mergescope-cli merge --base B --model M1 --model M2 ... --method NAME [--set key=value]... --out OUT
// mergescope-cli merge --kit KIT --method NAME [--set key=value]... --out OUT   (adamerging, calm: learned on the kit)
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "app/cli/terminal_progress.h"
#include "core/errors.h"
#include "core/merge/merge_engine.h"
#include "core/merge/method_registry.h"
#include "core/merge/recipe.h"
#ifdef MS_HAVE_MODEL
#include "core/session/kit_session.h"
#endif
#include <map>
#include <variant>

namespace ms::cli {

namespace {
struct MergeArgs {
    std::string recipe, base, method, out, task, dtype, saveRecipe, kit;
    std::vector<std::string> models, taskNames, sets, include, exclude, lambdaOverrides;
    std::vector<double> lambdaBlocks;
    bool keepHeads = false;
    std::uint64_t maxShard = 0;
    OpenFlags open;
};

core::merge::MergeSpec buildSpec(const MergeArgs& a) {
    using namespace core::merge;
    MergeSpec spec;
    if (!a.recipe.empty()) {
        if (!a.base.empty() || !a.models.empty() || !a.method.empty())
            throw core::InvalidArgument("give either --recipe or --base/--model/--method, not both");
        spec = loadRecipe(a.recipe);
    } else if (!a.kit.empty()) {
#ifdef MS_HAVE_MODEL
        if (!a.base.empty() || !a.models.empty()) throw core::InvalidArgument("give either --kit or --base/--model, not both");
        if (a.method.empty()) throw core::InvalidArgument("merge --kit needs --method");
        const auto k = core::session::kitInputs(a.kit);
        spec.method = a.method;
        spec.base = k.base;
        for (const auto& [file, task] : k.experts) spec.models.push_back({file, task, {}});
#else
        throw core::InvalidArgument("this build of mergescope-cli has no model support (--kit)");
#endif
    } else {
        if (a.base.empty() || a.models.empty() || a.method.empty())
            throw core::InvalidArgument("merge needs --recipe, --kit, or --base, --model (one or more) and --method");
        // Absolute paths, so that a saved recipe (and the provenance in the output) stays valid
        // wherever it is moved.
        const auto absolute = [](const std::string& p) { return std::filesystem::absolute(p).lexically_normal().string(); };
        spec.method = a.method;
        spec.base = absolute(a.base);
        for (std::size_t i = 0; i < a.models.size(); ++i)
            spec.models.push_back({absolute(a.models[i]), i < a.taskNames.size() ? a.taskNames[i] : "", {}});
        spec.open = a.open.options();
    }
    std::vector<ParamValues> perModel = spec.perModelParams();
    for (const auto& s : a.sets) parseAssignment(s, spec.params, perModel, spec.models.size());
    for (std::size_t i = 0; i < spec.models.size() && i < perModel.size(); ++i)
        for (const auto& [k, v] : perModel[i]) spec.models[i].params[k] = v;
    for (const auto& r : a.include) spec.filter.include.push_back(r);
    for (const auto& r : a.exclude) spec.filter.exclude.push_back(r);
    if (a.keepHeads) spec.filter.excludeHeads = false;
    if (!a.lambdaBlocks.empty()) spec.lambda.blockCurve = a.lambdaBlocks;
    for (const auto& o : a.lambdaOverrides) {
        const auto eq = o.rfind('=');
        if (eq == std::string::npos) throw core::InvalidArgument("--lambda-override needs REGEX=VALUE, not '" + o + "'");
        spec.lambda.overrides.emplace_back(o.substr(0, eq), std::stod(o.substr(eq + 1)));
    }
    if (!a.dtype.empty()) {
        const auto parsed = parseRecipe("merge_method: " + spec.method + "\nmodels: []\ndtype: " + a.dtype + "\n", "", "--dtype");
        spec.dtype = parsed.dtype;
    }
    return spec;
}

std::string withTaskSuffix(const std::string& out, const std::string& task) {
    const std::filesystem::path p(out);
    std::string ext = p.extension().string();
    return (p.parent_path() / (p.stem().string() + "-" + task + ext)).string();
}

#ifdef MS_HAVE_MODEL
// adamerging / calm: learned on the kit's data, then written with recipe, inputs and what was learned.
int runLearned(const MergeArgs& a, const core::merge::MergeSpec& spec) {
    if (a.kit.empty()) throw core::InvalidArgument(spec.method + " learns from a kit's data and heads: give --kit");
    TerminalProgress progress;
    const auto t0 = std::chrono::steady_clock::now();
    auto session = core::session::KitSession::open(a.kit, {}, progress);
    std::map<std::string, double> numbers;
    std::map<std::string, std::string> choices;
    for (const auto& [k, v] : spec.params) {
        if (const auto* d = std::get_if<double>(&v)) numbers[k] = *d;
        else choices[k] = std::get<std::string>(v);
    }
    session->saveMerged(spec.method, numbers, {}, a.out, -1, progress, nullptr, choices);
    std::cout << "wrote " << a.out << "\n";
    if (!a.saveRecipe.empty()) {
        core::merge::writeRecipe(spec, a.saveRecipe);
        std::cout << "wrote " << a.saveRecipe << "\n";
    }
    std::cerr << spec.method << ": learned and merged in " << std::fixed << std::setprecision(1)
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
    return kExitOk;
}
#endif

int runMerge(const MergeArgs& a) {
    return runGuarded([&] {
        const auto t0 = std::chrono::steady_clock::now();
        const core::merge::MergeSpec spec = buildSpec(a);
        if (core::merge::findMethod(spec.method).info().learned) {
#ifdef MS_HAVE_MODEL
            return runLearned(a, spec);
#else
            throw core::InvalidArgument("this build of mergescope-cli has no model support (" + spec.method + ")");
#endif
        }
        core::merge::MergeEngine engine(spec);
        TerminalProgress progress;
        const auto& info = engine.method().info();
        const auto tasks = engine.spec().taskNames();
        std::vector<int> which;
        if (!a.task.empty()) {
            const auto it = std::find(tasks.begin(), tasks.end(), a.task);
            if (it == tasks.end()) throw core::InvalidArgument("--task '" + a.task + "' is not one of the models' tasks");
            which.push_back(static_cast<int>(it - tasks.begin()));
        } else if (info.perTaskOutputs) {
            for (std::size_t i = 0; i < tasks.size(); ++i) which.push_back(static_cast<int>(i));
        } else {
            which.push_back(-1);
        }
        core::io::WriteOptions opts;
        opts.maxShardBytes = a.maxShard;
        for (int task : which) {
            const std::string path = info.perTaskOutputs && a.task.empty() ? withTaskSuffix(a.out, tasks[static_cast<std::size_t>(task)]) : a.out;
            for (const auto& f : engine.write(path, info.perTaskOutputs ? task : -1, opts, progress))
                std::cout << "wrote " << f << "\n";
        }
        if (!a.saveRecipe.empty()) {
            core::merge::writeRecipe(engine.spec(), a.saveRecipe);
            std::cout << "wrote " << a.saveRecipe << "\n";
        }
        const auto& plan = engine.problem().plan();
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::cerr << info.name << ": merged " << plan.merged.size() << " tensors (" << groupedInt(plan.mergedElements)
                  << " parameters), copied " << plan.copied.size() << ", left out " << plan.ignored.size()
                  << " expert-only tensors, in " << std::fixed << std::setprecision(2) << secs << " s\n";
        return kExitOk;
    });
}
}  // namespace

void addMergeCommand(CLI::App& app, int& exitCode) {
    auto a = std::make_shared<MergeArgs>();
    auto* cmd = app.add_subcommand("merge", "Merge fine-tuned models into one (or one per task), from a recipe or flags");
    cmd->add_option("--recipe", a->recipe, "YAML recipe (mergekit field names; see docs/merging.md)");
    cmd->add_option("--kit", a->kit, "take the base and the experts from a kit (needed by adamerging and calm)");
    cmd->add_option("--base", a->base, "the pretrained base checkpoint");
    cmd->add_option("--model", a->models, "a fine-tuned checkpoint (repeat)");
    cmd->add_option("--task-name", a->taskNames, "task name of each --model, in order (default: file stem)");
    cmd->add_option("--method", a->method, "merge method (mergescope-cli methods lists them)");
    cmd->add_option("--set", a->sets, "parameter: key=value, or key=v1,v2,... per model (repeat)");
    cmd->add_option("--include", a->include, "merge only tensors matching this regex (repeat)");
    cmd->add_option("--exclude", a->exclude, "copy tensors matching this regex from the base (repeat)");
    cmd->add_flag("--keep-heads", a->keepHeads, "also merge tensors named like task heads (head, classifier, decoder, ...)");
    cmd->add_option("--lambda-blocks", a->lambdaBlocks, "λ curve over the transformer blocks, interpolated (e.g. 0.2 1.0)")->delimiter(',');
    cmd->add_option("--lambda-override", a->lambdaOverrides, "REGEX=VALUE: λ for matching tensors (repeat; last match wins)");
    cmd->add_option("--dtype", a->dtype, "output dtype of merged tensors: float32, float16, bfloat16 (default: the base's)");
    cmd->add_option("--task", a->task, "per-task methods (tall_masks, emr): write only this task's model");
    cmd->add_option("--out", a->out, "output .safetensors or .h5 (per-task methods: OUT-<task>.ext per task)")->required();
    cmd->add_option("--max-shard-size", a->maxShard, "safetensors: shard above this many bytes");
    cmd->add_option("--save-recipe", a->saveRecipe, "also write the full recipe of this merge as YAML");
    a->open.addTo(*cmd);
    cmd->callback([a, &exitCode] { exitCode = runMerge(*a); });
}

}  // namespace ms::cli
