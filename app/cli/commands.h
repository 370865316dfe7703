// The subcommands of mergescope-cli. Each adds itself to the app; when it runs, its exit code
// is stored in `exitCode`.
#pragma once

#include <CLI/CLI.hpp>

namespace ms::cli {

void addInspectCommand(CLI::App& app, int& exitCode);
void addCheckCommand(CLI::App& app, int& exitCode);
void addConvertCommand(CLI::App& app, int& exitCode);
void addMergeCommand(CLI::App& app, int& exitCode);
void addMethodsCommand(CLI::App& app, int& exitCode);
void addAnalyzeCommand(CLI::App& app, int& exitCode);
void addReportCommand(CLI::App& app, int& exitCode);
void addGatherCommand(CLI::App& app, int& exitCode);  // gather the shards of a sweep
void addCacheCommand(CLI::App& app, int& exitCode);   // cache info | clear
void addDemoCommand(CLI::App& app, int& exitCode);   // only with MS_HAVE_MODEL
void addSweepCommands(CLI::App& app, int& exitCode);  // sweep, relations; only with MS_HAVE_MODEL
void addKitCommand(CLI::App& app, int& exitCode);     // kit check; only with MS_HAVE_MODEL

}  // namespace ms::cli
