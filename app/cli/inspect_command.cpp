// mergescope-cli inspect FILE... [--json] [--hash] [--filter REGEX]
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "app/cli/terminal_progress.h"
#include "core/io/dtype.h"

namespace ms::cli {

namespace {

struct InspectArgs {
    std::vector<std::string> files;
    bool json = false;
    bool hash = false;
    std::string filter;
    OpenFlags open;
};

std::vector<const core::io::TensorInfo*> selected(const core::io::TensorSource& src,
                                                  const std::string& filter) {
    std::vector<const core::io::TensorInfo*> out;
    std::optional<std::regex> re;
    if (!filter.empty()) re.emplace(filter);
    for (const auto& t : src.tensors())
        if (!re || std::regex_search(t.name, *re)) out.push_back(&t);
    std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return naturalLess(a->name, b->name); });
    return out;
}

nlohmann::json toJson(const core::io::TensorSource& src, const InspectArgs& args,
                      core::ProgressSink& progress) {
    nlohmann::json j;
    j["path"] = src.path();
    j["format"] = src.format();
    j["metadata"] = src.metadata();
    j["tensors"] = nlohmann::json::array();
    std::uint64_t params = 0, bytes = 0;
    for (const auto* t : selected(src, args.filter)) {
        j["tensors"].push_back({{"name", t->name},
                                {"dtype", core::io::dtypeName(t->dtype)},
                                {"shape", t->shape},
                                {"params", t->numel},
                                {"bytes", t->nbytes}});
        params += t->numel;
        bytes += t->nbytes;
    }
    j["total_params"] = params;
    j["total_bytes"] = bytes;
    if (args.hash) j["hash"] = src.contentHash(progress);
    return j;
}

void printTable(const core::io::TensorSource& src, const InspectArgs& args,
                core::ProgressSink& progress) {
    const auto tensors = selected(src, args.filter);
    std::size_t nameW = 6, shapeW = 5;
    for (const auto* t : tensors) {
        nameW = std::max(nameW, t->name.size());
        shapeW = std::max(shapeW, shapeText(t->shape).size());
    }
    std::cout << src.path() << "\n  format: " << src.format() << "\n";
    if (args.hash) std::cout << "  xxh128: " << src.contentHash(progress) << "\n";
    if (!src.metadata().empty()) {
        std::cout << "  metadata:\n";
        for (const auto& [k, v] : src.metadata()) {
            if (k == "mergescope.recipe") {  // how the file was made: shown whole
                std::cout << "    " << k << ":\n";
                std::istringstream lines(v);
                for (std::string line; std::getline(lines, line);) std::cout << "      " << line << "\n";
                continue;
            }
            std::string shown = v.size() > 200 ? v.substr(0, 200) + "... (" + std::to_string(v.size()) + " chars; --json shows all)" : v;
            std::replace(shown.begin(), shown.end(), '\n', ' ');
            std::cout << "    " << k << ": " << shown << "\n";
        }
    }
    std::cout << "\n  " << std::left << std::setw(static_cast<int>(nameW)) << "tensor" << "  "
              << std::setw(5) << "dtype" << "  " << std::setw(static_cast<int>(shapeW)) << "shape"
              << "  " << std::right << std::setw(13) << "params" << "  " << std::setw(10) << "bytes"
              << "\n";
    std::uint64_t params = 0, bytes = 0;
    for (const auto* t : tensors) {
        std::cout << "  " << std::left << std::setw(static_cast<int>(nameW)) << t->name << "  "
                  << std::setw(5) << core::io::dtypeName(t->dtype) << "  "
                  << std::setw(static_cast<int>(shapeW)) << shapeText(t->shape) << "  "
                  << std::right << std::setw(13) << groupedInt(t->numel) << "  " << std::setw(10)
                  << humanBytes(t->nbytes) << "\n";
        params += t->numel;
        bytes += t->nbytes;
    }
    std::cout << "  " << std::left << std::setw(static_cast<int>(nameW + shapeW + 9))
              << ("total (" + std::to_string(tensors.size()) + " tensors)") << std::right
              << std::setw(13) << groupedInt(params) << "  " << std::setw(10) << humanBytes(bytes)
              << "\n";
}

int runInspect(const InspectArgs& args) {
    if (!args.filter.empty()) {
        try {
            std::regex re(args.filter);
        } catch (const std::regex_error& e) {
            std::cerr << "error: --filter '" << args.filter << "' is not a valid regex: " << e.what() << "\n";
            return kExitBadInput;
        }
    }
    TerminalProgress progress;
    nlohmann::json all = {{"files", nlohmann::json::array()}};
    int rc = kExitOk;
    bool first = true;
    for (const auto& f : args.files) {
        const int one = runGuarded([&] {
            const auto src = core::io::openCheckpoint(f, args.open.options());
            if (args.json) {
                all["files"].push_back(toJson(*src, args, progress));
            } else {
                if (!first) std::cout << "\n";
                printTable(*src, args, progress);
            }
            first = false;
            return kExitOk;
        });
        rc = std::max(rc, one);
    }
    if (args.json)
        std::cout << all.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return rc;
}

}  // namespace

void addInspectCommand(CLI::App& app, int& exitCode) {
    auto args = std::make_shared<InspectArgs>();
    auto* cmd = app.add_subcommand("inspect", "List the tensors of checkpoint files (any format)");
    cmd->add_option("files", args->files, "safetensors, .pt/.pth/.bin/.ckpt, .h5, index.json or model directory")
        ->required();
    cmd->add_flag("--json", args->json, "print JSON: {\"files\": [{path, format, metadata, tensors: [{name, dtype, shape, params, bytes}], ...}]}");
    cmd->add_flag("--hash", args->hash, "also compute the XXH3-128 content hash (reads the whole file; same as xxhsum -H2)");
    cmd->add_option("--filter", args->filter, "only tensors whose name matches this regex");
    args->open.addTo(*cmd);
    cmd->callback([args, &exitCode] { exitCode = runInspect(*args); });
}

}  // namespace ms::cli
