// Writing merged models: the one function every save path calls — `merge` from flags, a recipe
// or a kit, `merge --experiment` for a sweep point, and the workbench's "Save merged model".
// The output path is checked before anything is read; per-task methods (tall_masks, emr) write
// one file per task, OUT-<task>.ext, unless one task is chosen. Every file carries the
// provenance metadata of MergeEngine::provenance plus the caller's extra keys.
#pragma once

#include <string>
#include <vector>

#include "core/io/checkpoint_writer.h"
#include "core/merge/kit_context.h"
#include "core/merge/merge_spec.h"

namespace ms::core::merge {

struct OutputRequest {
    std::string path;          // .safetensors or .h5
    std::string task;          // per-task methods: only this task's model ("" = every task's)
    io::WriteOptions write;    // sharding; metadata keys added to the provenance
    bool verifyInputs = false;  // refuse inputs whose hash differs from the one the spec records
    std::vector<std::string> otherInputs;  // files the output must not overwrite besides the checkpoints
};

struct OutputOutcome {
    std::vector<std::string> files;
    std::size_t mergedTensors = 0, copiedTensors = 0, ignoredTensors = 0;
    std::uint64_t mergedElements = 0;
};

// Throws InvalidArgument (bad path, settings, unknown task, changed input), the engine's errors
// for inputs that do not fit, OutputError when writing fails (nothing is left half-written).
OutputOutcome writeMerged(const MergeSpec& spec, const OutputRequest& request, const KitContext* kit = nullptr,
                          ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);

// "dir/out.safetensors" + "seg" → "dir/out-seg.safetensors".
std::string withTaskSuffix(const std::string& path, const std::string& task);

}  // namespace ms::core::merge
