// mergescope-cli check --base B --model M1 --model M2 ... [--no-values]
#include <iostream>
#include <memory>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "app/cli/terminal_progress.h"
#include "core/io/compatibility.h"

namespace ms::cli {

namespace {
struct CheckArgs {
    std::string base;
    std::vector<std::string> models;
    bool noValues = false;
    OpenFlags open;
};

int runCheck(const CheckArgs& args) {
    return runGuarded([&] {
        const auto base = core::io::openCheckpoint(args.base, args.open.options());
        std::vector<std::unique_ptr<core::io::TensorSource>> experts;
        std::vector<const core::io::TensorSource*> ptrs;
        for (const auto& m : args.models) {
            experts.push_back(core::io::openCheckpoint(m, args.open.options()));
            ptrs.push_back(experts.back().get());
        }
        TerminalProgress progress;
        core::io::CompatOptions opts;
        opts.checkFinite = !args.noValues;
        const auto report = core::io::checkCompatibility(*base, ptrs, opts, progress);
        const std::string text = report.format();
        if (text.empty())
            std::cout << "compatible: " << report.tensorsChecked << " tensors in the base, "
                      << experts.size() << " model(s), no problems\n";
        else
            std::cout << text;
        return report.ok() ? kExitOk : kExitBadInput;
    });
}
}  // namespace

void addCheckCommand(CLI::App& app, int& exitCode) {
    auto args = std::make_shared<CheckArgs>();
    auto* cmd = app.add_subcommand("check", "Check that fine-tuned models fit a base checkpoint (names, shapes, dtypes, finite values)");
    cmd->add_option("--base", args->base, "the pretrained base checkpoint")->required();
    cmd->add_option("--model", args->models, "a fine-tuned checkpoint (repeat)")->required();
    cmd->add_flag("--no-values", args->noValues, "skip the scan for NaN/Inf values");
    args->open.addTo(*cmd);
    cmd->callback([args, &exitCode] { exitCode = runCheck(*args); });
}

}  // namespace ms::cli
