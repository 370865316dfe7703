// mergescope-cli merge --recipe R.yaml --out OUT
// mergescope-cli merge --base B --model M1 --model M2 ... --method NAME [--set key=value]... --out OUT
// mergescope-cli merge --kit KIT --method NAME [--set key=value]... --out OUT
// mergescope-cli merge --experiment EXP.h5 --sweep ID --point N --out OUT   (re-makes a sweep point)
// Every form builds one MergeSpec and writes it through merge::writeMerged; methods that learn
// from data (needsKit) get the kit's data through a KitContext.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "app/cli/terminal_progress.h"
#include "core/errors.h"
#include "core/merge/lambda_schedule.h"
#include "core/io/output_path.h"
#include "core/merge/merged_output.h"
#include "core/merge/method_registry.h"
#include "core/merge/recipe.h"
#include "core/store/experiment_store.h"
#include "core/store/sweep_points.h"
#include "core/sweep/sweep_point.h"
#ifdef MS_HAVE_MODEL
#include "core/eval/kit_suite.h"
#include "core/eval/task_suite.h"
#include "core/learned/suite_kit_context.h"
#include "core/model/device.h"
#include "core/session/kit_session.h"
#include "core/session/suite_loader.h"
#include "core/session/sweep_runner.h"
#endif

namespace ms::cli {

namespace {
struct MergeArgs {
    std::string device = "auto";
    std::string recipe, base, method, out, task, dtype, saveRecipe, kit, experiment, sweep;
    int point = 0;
    std::vector<std::string> models, taskNames, sets, include, exclude, lambdaOverrides;
    std::string lambdaBlocks;
    bool keepHeads = false;
    std::uint64_t maxShard = 0;
    OpenFlags open;
};

double parseValue(const std::string& text, const std::string& what) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v)) throw core::InvalidArgument(what + ": '" + text + "' is not a number");
    return v;
}

core::merge::MergeSpec fromExperiment(const MergeArgs& a) {
    if (!a.base.empty() || !a.models.empty() || !a.recipe.empty() || !a.method.empty() || !a.sets.empty())
        throw core::InvalidArgument("--experiment re-makes a sweep point as it was scored: give no --base, --model, --recipe, --method or --set");
    if (a.sweep.empty() || a.point < 1)
        throw core::InvalidArgument("--experiment needs --sweep ID and --point N (N from 1, as `mergescope-cli report` numbers them)");
    const core::store::Experiment e = core::store::readExperiment(a.experiment);
    return core::store::pointSpec(e, a.sweep, a.point);
}

core::merge::MergeSpec buildSpec(const MergeArgs& a) {
    using namespace core::merge;
    if (!a.experiment.empty()) return fromExperiment(a);
    if (!a.sweep.empty() || a.point != 0) throw core::InvalidArgument("--sweep and --point go with --experiment");
    MergeSpec spec;
    if (!a.recipe.empty()) {
        if (!a.base.empty() || !a.models.empty() || !a.method.empty())
            throw core::InvalidArgument("give either --recipe or --base/--model/--method, not both");
        spec = loadRecipe(a.recipe);
    } else if (!a.kit.empty()) {
#ifdef MS_HAVE_MODEL
        if (!a.base.empty() || !a.models.empty()) throw core::InvalidArgument("give either --kit or --base/--model, not both");
        if (a.method.empty()) throw core::InvalidArgument("merge --kit needs --method");
        core::model::resolveDevice(a.device);
        spec.method = a.method;
        core::sweep::bindToKit(spec, core::session::kitBinding(a.kit));  // the kit's files, hashes and prefix
        if (!a.include.empty()) spec.filter.include.clear();             // the user's --include wins over the prefix
#else
        throw core::InvalidArgument("this build of mergescope-cli has no model support (--kit)");
#endif
    } else {
        if (a.base.empty() || a.models.empty() || a.method.empty())
            throw core::InvalidArgument("merge needs --recipe, --kit, --experiment, or --base, --model (one or more) and --method");
        // Absolute paths, so that a saved recipe (and the provenance in the output) stays valid
        // wherever it is moved.
        const auto absolute = [](const std::string& p) { return std::filesystem::absolute(p).lexically_normal().string(); };
        spec.method = a.method;
        spec.base = absolute(a.base);
        for (std::size_t i = 0; i < a.models.size(); ++i)
            spec.models.push_back({absolute(a.models[i]), i < a.taskNames.size() ? a.taskNames[i] : "", {}, ""});
        spec.open = a.open.options();
    }
    applyAssignments(spec, a.sets);
    for (const auto& r : a.include) spec.filter.include.push_back(r);
    for (const auto& r : a.exclude) spec.filter.exclude.push_back(r);
    if (a.keepHeads) spec.filter.excludeHeads = false;
    if (!a.lambdaBlocks.empty()) {
        const auto schedule = core::merge::parseBlockSchedule(a.lambdaBlocks);
        spec.lambda.blockCurve = schedule.curve;
        if (schedule.lambda) {
            for (const auto& set : a.sets)
                if (set.rfind("lambda=", 0) == 0)
                    throw core::InvalidArgument("--lambda-blocks " + a.lambdaBlocks + " sets λ (α, outside the blocks): drop --set " + set);
            spec.params["lambda"] = *schedule.lambda;
        }
    }
    for (const auto& o : a.lambdaOverrides) {
        const auto eq = o.rfind('=');
        if (eq == std::string::npos || eq == 0) throw core::InvalidArgument("--lambda-override needs REGEX=VALUE, not '" + o + "'");
        spec.lambda.overrides.emplace_back(o.substr(0, eq), parseValue(o.substr(eq + 1), "--lambda-override " + o));
    }
    if (!a.dtype.empty()) {
        spec.dtype = parseDtypeRecipeName(a.dtype);
        if (!spec.dtype) throw core::InvalidArgument("--dtype '" + a.dtype + "': use float32, float16, bfloat16 or float64");
    }
    // Validate the settings now, before any file is read.
    (void)MethodArgs(findMethod(spec.method).info(), spec.params, spec.perModelParams(), spec.models.size());
    return spec;
}

int runMerge(const MergeArgs& a) {
    return runGuarded([&] {
        const auto t0 = std::chrono::steady_clock::now();
        const core::merge::MergeSpec spec = buildSpec(a);
        const auto& info = core::merge::findMethod(spec.method).info();
        core::merge::OutputRequest request;
        request.path = a.out;
        request.task = a.task;
        request.write.maxShardBytes = a.maxShard;
        request.verifyInputs = !a.experiment.empty();  // the point is re-made only from the files it was scored on
        if (!a.experiment.empty()) {
            request.otherInputs.push_back(a.experiment);
            request.write.metadata["mergescope.origin"] =
                nlohmann::json{{"experiment", std::filesystem::absolute(a.experiment).string()}, {"sweep", a.sweep}, {"point", a.point}}.dump();
        }
        if (!a.saveRecipe.empty()) core::io::checkOutputPath(a.saveRecipe, {spec.base, a.out});
        TerminalProgress progress;
        core::merge::OutputOutcome outcome;
        if (info.needsKit) {
#ifdef MS_HAVE_MODEL
            std::string kit = a.kit;
            core::eval::SuiteOptions data;
            if (!a.experiment.empty()) {  // learn again on the images the sweep used (deterministic for its seed)
                const auto e = core::store::readExperiment(a.experiment);
                if (kit.empty()) kit = e.kitDir;
                const core::store::SweepRecord* r = e.findSweep(a.sweep);
                if (!r) throw core::InvalidArgument("no sweep '" + a.sweep + "' in " + a.experiment);
                data = core::session::suiteOptionsOf(r->scoring.data);
            }
            if (kit.empty()) throw core::InvalidArgument(core::merge::needsKitMessage(info.name));
            // Named before the kit's images are loaded (writeMerged checks again, for every path).
            std::vector<std::string> inputs = request.otherInputs;
            inputs.push_back(spec.base);
            for (const auto& m : spec.models) inputs.push_back(m.path);
            core::io::checkOutputPath(a.out, inputs);
            const core::eval::TaskSuite suite = core::session::loadSuite(kit, data, progress);
            const core::learned::SuiteKitContext context(suite);
            outcome = core::merge::writeMerged(spec, request, &context, progress);
#else
            throw core::InvalidArgument(core::merge::needsKitMessage(info.name) +
                                        " — but this build of mergescope-cli has no model support (built with MS_BUILD_MODEL=OFF)");
#endif
        } else {
            outcome = core::merge::writeMerged(spec, request, nullptr, progress);
        }
        for (const auto& f : outcome.files) std::cout << "wrote " << f << "\n";
        if (!a.saveRecipe.empty()) {
            core::merge::writeRecipe(spec, a.saveRecipe);
            std::cout << "wrote " << a.saveRecipe << "\n";
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::cerr << info.name << ": merged " << outcome.mergedTensors << " tensors (" << groupedInt(outcome.mergedElements)
                  << " parameters), copied " << outcome.copiedTensors << ", left out " << outcome.ignoredTensors
                  << " expert-only tensors, in " << std::fixed << std::setprecision(2) << secs << " s\n";
        return kExitOk;
    });
}
}  // namespace

void addMergeCommand(CLI::App& app, int& exitCode) {
    auto a = std::make_shared<MergeArgs>();
    auto* cmd = app.add_subcommand("merge", "Merge fine-tuned models into one (or one per task), from a recipe, flags, a kit or a sweep point");
    cmd->add_option("--recipe", a->recipe, "YAML recipe (mergekit field names; see docs/merging.md)");
    cmd->add_option("--kit", a->kit, "take the base and the experts from a kit (needed by adamerging and calm)");
    cmd->add_option("--device", a->device, "with --kit: where learned methods run encoders: auto, cpu, cuda or cuda:N (default auto; this version: the CPU)");
    cmd->add_option("--experiment", a->experiment, "re-make a sweep point of this experiment file (with --sweep and --point)");
    cmd->add_option("--sweep", a->sweep, "with --experiment: the sweep's id (sweep-001, ...)");
    cmd->add_option("--point", a->point, "with --experiment: the point's number, from 1, as `report` prints it");
    cmd->add_option("--base", a->base, "the pretrained base checkpoint");
    cmd->add_option("--model", a->models, "a fine-tuned checkpoint (repeat)");
    cmd->add_option("--task-name", a->taskNames, "task name of each --model, in order (default: file stem)");
    cmd->add_option("--method", a->method, "merge method (mergescope-cli methods lists them)");
    cmd->add_option("--set", a->sets, "parameter: key=value, or key=v1,v2,... per model (repeat)");
    cmd->add_option("--include", a->include, "merge only tensors matching this regex (repeat)");
    cmd->add_option("--exclude", a->exclude, "copy tensors matching this regex from the base (repeat)");
    cmd->add_flag("--keep-heads", a->keepHeads, "also merge tensors named like task heads (head, classifier, decoder, ...)");
    cmd->add_option("--lambda-blocks", a->lambdaBlocks,
                    "λ curve over the transformer blocks, interpolated (e.g. 0.2,1.0), or LiNeS: lines:ALPHA,BETA "
                    "(blocks from α to α + β, the rest at α)");
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
