// mergescope-cli kit check KIT.yaml [--json] [--eval-limit N] [--no-scores] [--probe-size N] [--seed N]
#include <cstdio>
#include <iostream>
#include <memory>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "app/cli/terminal_progress.h"
#include "core/eval/kit_suite.h"
#include "core/model/device.h"

namespace ms::cli {

namespace {
struct KitArgs {
    std::string kit;
    bool json = false, noScores = false;
    core::eval::CheckOptions options;
};
}  // namespace

void addKitCommand(CLI::App& app, int& exitCode) {
    auto a = std::make_shared<KitArgs>();
    auto* kit = app.add_subcommand("kit", "Kits of your own models and images (docs/kits.md)");
    kit->require_subcommand(1);
    auto* check = kit->add_subcommand(
        "check", "Validate a kit file before long work: files, layout, experts against the base, heads, images, labels; "
                 "then score each expert with its own head (exit 2 naming every problem)");
    check->add_option("kit", a->kit, "the kit file (kit: 1)")->required();
    check->add_flag("--json", a->json, "print {kit, ok, layout, architecture, problems, tasks: [{name, expert_score, scores, ...}]}");
    check->add_flag("--no-scores", a->noScores, "skip the expert scores (no encoder runs; images are still decoded)");
    check->add_option("--eval-limit", a->options.evalLimit, "score experts on at most this many eval images per set (default: all)");
    check->add_option("--probe-size", a->options.probeSize, "probe images per data set, as sweep draws them (default 128)");
    check->add_option("--realign-samples", a->options.realignSamples, "re-alignment images per data set (default 1000)");
    check->add_option("--seed", a->options.seed, "seed of the draws (default 0)");
    check->add_option("--downstream", a->options.downstream,
                      "also refuse what keeps this downstream mode from scoring (head-realign, repr-realign need labelled images)");
    auto device = std::make_shared<std::string>("auto");
    check->add_option("--device", *device, "where the expert scores run: auto, cpu, cuda or cuda:N (default auto; this version: the CPU)");
    check->callback([a, device, &exitCode] {
        exitCode = runGuarded([&] {
            core::model::resolveDevice(*device);
            a->options.scores = !a->noScores;
            core::eval::KitReport r;
            {
                TerminalProgress progress;
                r = core::eval::checkKit(a->kit, a->options, progress);
            }
            if (a->json) std::cout << core::eval::kitReportJson(r) << "\n";
            else std::cout << core::eval::kitReportText(r);
            return r.ok() ? kExitOk : kExitBadInput;
        });
    });
}

}  // namespace ms::cli
