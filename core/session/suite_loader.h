// Any kit path → a task suite (eval::loadKitSuite), its task names, or its binding to merge
// inputs: a kit file, or a folder holding kit.yaml (the demo kit is one such folder; its
// builder writes an ordinary kit file, docs/kits.md).
#pragma once

#include <string>
#include <vector>

#include "core/eval/task_suite.h"
#include "core/sweep/sweep_point.h"

namespace ms::core::session {

// A kit file, or a folder holding kit.yaml. Throws IoError (no such path) or FormatError naming the file at fault.
eval::TaskSuite loadSuite(const std::string& kitPath, const eval::SuiteOptions& options,
                          ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);

// The kit's task names in kit order, read from its manifest without loading anything else.
std::vector<std::string> kitTaskNames(const std::string& kitPath);

// The kit as merge inputs (sweep::KitBinding): from a loaded suite (hashes already taken), or
// from a kit path without loading its images (hashes each file; detects the base's prefix).
sweep::KitBinding kitBinding(const eval::TaskSuite& suite);
sweep::KitBinding kitBinding(const std::string& kitPath);

}  // namespace ms::core::session
