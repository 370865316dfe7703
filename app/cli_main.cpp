// mergescope-cli: the headless twin of the workbench. Wiring only; the work is in core/.
#include <CLI/CLI.hpp>
#include <iostream>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "core/jobs/parallel.h"

int main(int argc, char** argv) {
    CLI::App app{"MergeScope " MS_VERSION
                 ": merge fine-tuned vision encoders and choose merge hyperparameters with a "
                 "cheap proxy.\nExit codes: 0 ok, 2 bad input, 1 failure.",
                 "mergescope-cli"};
    app.set_version_flag("--version", "mergescope-cli " MS_VERSION);
    app.require_subcommand(1);
    app.fallthrough();  // --threads also after the subcommand
    app.add_option_function<unsigned>(
           "--threads", [](const unsigned& n) { ms::core::useThreads(n); },
           "threads for the merge, the proxy and sweeps: core's loops and OpenBLAS's pool (default: the machine's)")
        ->check(CLI::Range(1u, 1024u));
    ms::cli::setCommandLine(argc, argv);
    int exitCode = ms::cli::kExitOk;
    ms::cli::addInspectCommand(app, exitCode);
    ms::cli::addCheckCommand(app, exitCode);
    ms::cli::addConvertCommand(app, exitCode);
    ms::cli::addMergeCommand(app, exitCode);
    ms::cli::addMethodsCommand(app, exitCode);
    ms::cli::addAnalyzeCommand(app, exitCode);
    ms::cli::addReportCommand(app, exitCode);
    ms::cli::addCacheCommand(app, exitCode);
    ms::cli::addGatherCommand(app, exitCode);
#ifdef MS_HAVE_MODEL
    ms::cli::addDemoCommand(app, exitCode);
    ms::cli::addSweepCommands(app, exitCode);
    ms::cli::addKitCommand(app, exitCode);
#endif
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return ms::cli::kExitBadInput;
    }
    return exitCode;
}
