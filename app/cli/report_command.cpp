// mergescope-cli report EXP.h5 [--json | --csv] [--sweep ID]
#include <iostream>
#include <memory>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "app/cli/report_printer.h"
#include "core/errors.h"
#include "core/store/experiment_store.h"

namespace ms::cli {

void addReportCommand(CLI::App& app, int& exitCode) {
    struct Args {
        std::string file, sweep;
        bool json = false, csv = false;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("report", "Print an experiment file's sweeps: tables and text plots, or JSON/CSV");
    cmd->add_option("file", a->file, "experiment file (HDF5)")->required();
    auto* json = cmd->add_flag("--json", a->json, "machine-readable: {\"sweeps\": [{\"id\", \"method\", \"points\": [...], \"summary\"}]}");
    cmd->add_flag("--csv", a->csv, "one row per point of every sweep")->excludes(json);
    cmd->add_option("--sweep", a->sweep, "only this sweep (e.g. sweep-002)");
    cmd->callback([a, &exitCode] {
        exitCode = runGuarded([&] {
            core::store::Experiment e = core::store::readExperiment(a->file);
            if (!a->sweep.empty()) {
                const auto* s = e.findSweep(a->sweep);
                if (!s) throw core::InvalidArgument(a->file + ": no sweep '" + a->sweep + "'");
                const core::store::SweepRecord keep = *s;
                e.sweeps = {keep};
            }
            if (a->json) printJsonReport(std::cout, e);
            else if (a->csv) printCsvReport(std::cout, e);
            else {
                std::cout << a->file << ": experiment on kit " << (e.kitDir.empty() ? "-" : e.kitDir) << ", " << e.sweeps.size()
                          << " sweep(s), written by MergeScope " << e.toolVersion << ", modified " << e.modified << "\n\n";
                for (const auto& s : e.sweeps) {
                    printSweepReport(std::cout, s);
                    std::cout << "\n";
                }
            }
            return kExitOk;
        });
    });
}

}  // namespace ms::cli
