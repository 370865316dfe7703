// mergescope-cli convert IN OUT [--max-shard-size BYTES]
#include <iostream>
#include <memory>

#include "app/cli/cli_common.h"
#include "app/cli/commands.h"
#include "app/cli/terminal_progress.h"
#include "core/io/checkpoint_writer.h"
#include "core/io/output_path.h"
#include "core/io/content_hash.h"

namespace ms::cli {

namespace {
struct ConvertArgs {
    std::string input;
    std::string output;
    std::uint64_t maxShard = 0;
    OpenFlags open;
};

int runConvert(const ConvertArgs& args) {
    return runGuarded([&] {
        core::io::checkOutputPath(args.output, {args.input});
        const auto src = core::io::openCheckpoint(args.input, args.open.options());
        TerminalProgress progress;
        core::io::WriteOptions opts;
        opts.maxShardBytes = args.maxShard;
        opts.metadata["mergescope.source"] = args.input;
        opts.metadata["mergescope.source_xxh128"] = src->contentHash(progress);
        const auto files = core::io::convertCheckpoint(*src, args.output, opts, progress);
        for (const auto& f : files) std::cout << "wrote " << f << "\n";
        return kExitOk;
    });
}
}  // namespace

void addConvertCommand(CLI::App& app, int& exitCode) {
    auto args = std::make_shared<ConvertArgs>();
    auto* cmd = app.add_subcommand("convert", "Convert a checkpoint to safetensors or HDF5 (by the output's extension)");
    cmd->add_option("input", args->input, "any supported checkpoint")->required();
    cmd->add_option("output", args->output, "OUT.safetensors, OUT.h5 or OUT.hdf5")->required();
    cmd->add_option("--max-shard-size", args->maxShard, "safetensors: split into shards of at most this many bytes, with an index.json");
    args->open.addTo(*cmd);
    cmd->callback([args, &exitCode] { exitCode = runConvert(*args); });
}

}  // namespace ms::cli
