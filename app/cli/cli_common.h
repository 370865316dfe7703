// Shared pieces of the mergescope-cli commands: exit codes, error reporting, formatting.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/io/source_factory.h"

namespace ms::cli {

// Exit codes of every command: 0 ok, 2 bad input (the user can fix it), 1 failure.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;

// Runs `body`, turning exceptions into a message on stderr and an exit code.
int runGuarded(const std::function<int()>& body);

// Options every command that opens checkpoints shares (--key, --pickle-allow).
struct OpenFlags {
    std::string key;
    std::vector<std::string> pickleAllow;
    void addTo(CLI::App& cmd);
    core::io::OpenOptions options() const;
};

// The process's command line (set once by main): what `sweep --slurm` writes into its job script.
void setCommandLine(int argc, char** argv);
const std::vector<std::string>& commandLine();
// `text` quoted for a POSIX shell ('…', with ' as '\'').
std::string shellQuote(const std::string& text);

// --wait SECONDS: a number of seconds >= 0 (CLI11's own range check prints the whole double range).
const CLI::Validator& waitSeconds();

std::string humanBytes(std::uint64_t n);
std::string groupedInt(std::uint64_t n);  // 1,234,567
std::string shapeText(const std::vector<std::int64_t>& shape);
// Sorts names so that "blocks.2" comes before "blocks.10".
bool naturalLess(const std::string& a, const std::string& b);

}  // namespace ms::cli
