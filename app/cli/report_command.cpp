// mergescope-cli report EXP.h5 [--json | --csv] [--sweep ID]
// mergescope-cli gather OUT.h5 PART.h5...
#include <filesystem>
#include <iostream>
#include <memory>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "app/cli/report_printer.h"
#include "core/errors.h"
#include "core/io/output_path.h"
#include "core/io/writer_lock.h"
#include "core/store/experiment_store.h"
#include "core/store/gather.h"

namespace ms::cli {

void addReportCommand(CLI::App& app, int& exitCode) {
    struct Args {
        std::string file, sweep;
        bool json = false, csv = false;
        std::string against = "delta-mtl";
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("report", "Print an experiment file's sweeps: tables and text plots, or JSON/CSV");
    cmd->add_option("file", a->file, "experiment file (HDF5)")->required();
    auto* json = cmd->add_flag("--json", a->json, "machine-readable: {\"sweeps\": [{\"id\", \"method\", \"points\": [...], \"summary\"}]}");
    cmd->add_flag("--csv", a->csv, "one row per point of every sweep")->excludes(json);
    cmd->add_option("--sweep", a->sweep, "only this sweep (e.g. sweep-002)");
    cmd->add_option("--judge-against", a->against,
                    "what the proxy is judged against: delta-mtl (LibMTL's ΔMTL, default) or mean (mean normalized performance); "
                    "sweeps recorded before 0.2 use mean");
    cmd->callback([a, &exitCode] {
        exitCode = runGuarded([&] {
            const auto against = core::store::parseDownstreamAggregate(a->against);
            core::store::Experiment e = core::store::readExperiment(a->file);
            if (!a->sweep.empty()) {
                const auto* s = e.findSweep(a->sweep);
                if (!s) throw core::InvalidArgument(a->file + ": no sweep '" + a->sweep + "'");
                const core::store::SweepRecord keep = *s;
                e.sweeps = {keep};
            }
            if (a->json) printJsonReport(std::cout, e, against);
            else if (a->csv) printCsvReport(std::cout, e);
            else {
                std::cout << a->file << ": experiment on kit " << (e.kitDir.empty() ? "-" : e.kitDir) << ", " << e.sweeps.size()
                          << " sweep(s), written by MergeScope " << e.toolVersion << ", modified " << e.modified << "\n\n";
                for (const auto& s : e.sweeps) {
                    printSweepReport(std::cout, s, against);
                    std::cout << "\n";
                }
            }
            return kExitOk;
        });
    });
}

// mergescope-cli gather OUT.h5 PART.h5... [--force]
void addGatherCommand(CLI::App& app, int& exitCode) {
    struct Args {
        std::string out;
        std::vector<std::string> parts;
        bool force = false;
        double waitSeconds = 0;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("gather",
                                   "Gather the shards of a sweep (sweep --shard I/N, one file each) into one experiment file");
    cmd->add_option("out", a->out, "experiment file to write (refused if it exists, unless --force)")->required();
    cmd->add_option("parts", a->parts, "the shards' experiment files")->required();
    cmd->add_flag("--force", a->force, "replace OUT if it exists");
    cmd->add_option("--wait", a->waitSeconds, "when another process is writing OUT: wait up to SECONDS for it (default 0: refuse)")
        ->check(waitSeconds());
    cmd->callback([a, &exitCode] {
        exitCode = runGuarded([&] {
            core::io::checkOutputPath(a->out, a->parts);
            const core::io::WriterLock lock(a->out, "mergescope-cli gather", a->waitSeconds);  // before the exists check
            if (std::filesystem::exists(a->out) && !a->force)
                throw core::InvalidArgument(a->out + " exists: gather writes a new experiment file (--force replaces it)");
            std::vector<std::pair<std::string, core::store::Experiment>> parts;
            for (const auto& p : a->parts) parts.emplace_back(p, core::store::readExperiment(p));
            const core::store::GatherResult g = core::store::gatherShards(parts);
            core::store::writeExperiment(a->out, g.experiment);
            const auto& s = g.experiment.sweeps.front();
            std::cerr << "gathered " << parts.size() << " part(s) (shards";
            for (const auto& sh : g.shards) std::cerr << " " << sh;
            std::cerr << "): " << s.points.size() << " of " << s.plannedPoints << " points";
            if (g.duplicates) std::cerr << ", " << g.duplicates << " held twice (the first part's kept)";
            std::cerr << "\n";
            if (!g.missing.empty()) {
                std::cerr << "missing " << g.missing.size() << " point(s):";
                for (std::size_t i = 0; i < g.missing.size() && i < 20; ++i) std::cerr << " " << g.missing[i];
                if (g.missing.size() > 20) std::cerr << " …";
                std::cerr << "\nrun the same sweep command with --resume --out " << a->out << " (no --shard) to fill them\n";
            }
            printSweepReport(std::cout, s);
            std::cout << "saved in " << a->out << "\n";
            return kExitOk;
        });
    });
}

}  // namespace ms::cli
