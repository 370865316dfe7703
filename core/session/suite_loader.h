// Any kit path → a task suite: a kit file (eval::loadKitSuite), or the folder of a demo kit
// built by `mergescope-cli demo build` (demo::loadDemoSuite). The one place outside core/demo
// that knows the demo kit's own manifest — until the demo writes an ordinary kit file, this is
// where a kit path is told apart (docs/architecture.md).
#pragma once

#include <string>
#include <vector>

#include "core/eval/task_suite.h"
#include "core/sweep/sweep_point.h"

namespace ms::core::session {

// A kit file, or the demo kit's directory (or a directory holding kit.yaml of either kind).
// Throws IoError (no such path) or FormatError naming the file at fault.
eval::TaskSuite loadSuite(const std::string& kitPath, const eval::SuiteOptions& options,
                          ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);

// The kit's task names in kit order, read from its manifest without loading anything else.
std::vector<std::string> kitTaskNames(const std::string& kitPath);

// The kit as merge inputs (sweep::KitBinding): from a loaded suite (hashes already taken), or
// from a kit path without loading its images (hashes each file; detects the base's prefix).
sweep::KitBinding kitBinding(const eval::TaskSuite& suite);
sweep::KitBinding kitBinding(const std::string& kitPath);

}  // namespace ms::core::session
