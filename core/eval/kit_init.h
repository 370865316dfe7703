// `kit init`: a kit file from what a user downloaded — a base, experts, images (and class names)
// — with the layout, preprocessing and heads found from the files (docs/kits.md). The kit is
// written atomically; `kit check` is the caller's next step.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/kit/kit_file.h"

namespace ms::core::eval {

struct KitInitRequest {
    std::string out;   // the kit file to write
    std::string name;  // default: the output's folder name
    std::string base;
    std::vector<std::pair<std::string, std::string>> experts;  // task name → checkpoint
    std::vector<std::pair<std::string, std::string>> images;   // task name → folder / CSV / HDF5 (probe and re-alignment)
    std::vector<std::pair<std::string, std::string>> eval;     // task name → labelled eval images (optional)
    std::vector<std::pair<std::string, std::string>> classes;  // task name → class-names file (a zero-shot head from them)
    std::vector<std::pair<std::string, std::string>> heads;    // task name → head file (a linear head, a ClassificationHead pickle, ...)
    std::string templates = "openai";                          // for heads from class names
    std::string layout = "auto";
    std::vector<std::string> pickleAllow;
    bool force = false;  // overwrite an existing kit file
};

struct KitInitOutcome {
    kit::KitFile kit;                // as written
    std::string yaml;                // its text
    std::vector<std::string> notes;  // what was found and decided, one line each
};

// Throws IoError / FormatError / InvalidArgument naming the file or option at fault; nothing is
// written then.
KitInitOutcome initKit(const KitInitRequest& request);

}  // namespace ms::core::eval
