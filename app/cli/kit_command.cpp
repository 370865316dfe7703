// mergescope-cli kit check KIT.yaml [--json] [--eval-limit N] [--no-scores] [--probe-size N] [--seed N]
// mergescope-cli kit init --out KIT.yaml --base B --expert NAME=FILE... --images NAME=DIR... [--classes NAME=FILE]...
#include <cstdio>
#include <iostream>
#include <memory>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "app/cli/terminal_progress.h"
#include "core/errors.h"
#include "core/eval/kit_init.h"
#include "core/eval/kit_suite.h"
#include "core/model/device.h"
#include "core/model/precision.h"

namespace ms::cli {

namespace {
struct KitArgs {
    std::string kit;
    bool json = false, noScores = false;
    core::eval::CheckOptions options;
};

struct InitArgs {
    core::eval::KitInitRequest request;
    std::vector<std::string> experts, images, eval, classes, heads;
    bool noCheck = false;
};

// NAME=VALUE pairs of a repeated option.
std::vector<std::pair<std::string, std::string>> pairs(const std::vector<std::string>& given, const char* option) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& g : given) {
        const auto eq = g.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == g.size())
            throw core::InvalidArgument(std::string(option) + " '" + g + "': give NAME=PATH (the task's name, then its file)");
        out.emplace_back(g.substr(0, eq), g.substr(eq + 1));
    }
    return out;
}

int runCheck(const std::string& kitFile, core::eval::CheckOptions options, bool json) {
    core::eval::KitReport r;
    {
        TerminalProgress progress;
        r = core::eval::checkKit(kitFile, options, progress);
    }
    if (json) std::cout << core::eval::kitReportJson(r) << "\n";
    else std::cout << core::eval::kitReportText(r);
    return r.ok() ? kExitOk : kExitBadInput;
}
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
    auto precision = std::make_shared<std::string>();
    check->add_option("--precision", *precision, "encoder forwards of the expert scores: fp32 (default), bf16 or auto (as sweep)")
        ->check(CLI::IsMember({"fp32", "bf16", "auto"}));
    check->callback([a, device, precision, &exitCode] {
        exitCode = runGuarded([&] {
            core::model::resolveDevice(*device);
            if (!precision->empty()) core::model::setEncoderPrecision(core::model::parsePrecision(*precision));
            a->options.scores = !a->noScores;
            return runCheck(a->kit, a->options, a->json);
        });
    });

    auto i = std::make_shared<InitArgs>();
    auto* init = kit->add_subcommand(
        "init", "Write a kit file from downloaded models and images: layout, architecture, preprocessing and heads found from the files "
                "(zero-shot heads from --classes files, or from the images' class folders when the base is a CLIP with its text tower); "
                "then run kit check on it");
    init->add_option("--out", i->request.out, "the kit file to write (refused if it exists, unless --force)")->required();
    init->add_option("--base", i->request.base, "the pretrained checkpoint (a file, or a model folder)")->required();
    init->add_option("--expert", i->experts, "NAME=FILE: a task's fine-tuned checkpoint (repeat per task)")->required();
    init->add_option("--images", i->images, "NAME=DIR: the task's images (ImageFolder, flat folder, CSV, HDF5; repeat per task)")->required();
    init->add_option("--eval", i->eval, "NAME=PATH: labelled eval images of a task (optional)");
    init->add_option("--classes", i->classes, "NAME=FILE: class names in label order (one per line, or a JSON list): a zero-shot head from them");
    init->add_option("--head", i->heads, "NAME=FILE: a task's head file (linear weights, text embeddings, a pickled ClassificationHead)");
    init->add_option("--templates", i->request.templates, "prompt templates of heads from class names: openai (default, 80) or simple");
    init->add_option("--name", i->request.name, "the kit's name (default: its folder's)");
    init->add_option("--layout", i->request.layout, "the weights' layout (default auto: found from the names)");
    init->add_option("--pickle-allow", i->request.pickleAllow,
                     "classes of whole pickled modules to read as inert placeholders (written to the kit's pickle_allow)");
    init->add_flag("--force", i->request.force, "replace an existing kit file");
    init->add_flag("--no-check", i->noCheck, "write the kit without running kit check");
    auto initDevice = std::make_shared<std::string>("auto");
    init->add_option("--device", *initDevice, "where kit check's expert scores run (as kit check)");
    init->callback([i, initDevice, &exitCode] {
        exitCode = runGuarded([&] {
            core::model::resolveDevice(*initDevice);
            i->request.experts = pairs(i->experts, "--expert");
            i->request.images = pairs(i->images, "--images");
            i->request.eval = pairs(i->eval, "--eval");
            i->request.classes = pairs(i->classes, "--classes");
            i->request.heads = pairs(i->heads, "--head");
            const core::eval::KitInitOutcome o = core::eval::initKit(i->request);
            std::cout << "wrote " << o.kit.path << "\n";
            for (const auto& n : o.notes) std::cout << "  " << n << "\n";
            if (i->noCheck) return kExitOk;
            std::cout << "\n";
            return runCheck(o.kit.path, {}, false);
        });
    });
}

}  // namespace ms::cli
