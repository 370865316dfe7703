// A kit file → a task suite (eval::TaskSuite), and `kit check`: everything a user can get wrong
// in a kit named before long work. Both use the same steps, in the same order:
//   1. the kit file (structure, known keys)          4. image sources listed, labels where scores need them
//   2. the base: layout, prefix, architecture       5. heads against the width and the classes
//   3. each expert against the base                 6. images decoded (only those drawn), targets read
// loadKitSuite stops at the first problem (FormatError naming file, tensor or image; exit 2 in
// the CLI); checkKit goes on and lists every problem it can find, then (when nothing is wrong)
// scores each expert with its own head on its eval set.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/eval/task_suite.h"
#include "core/eval/kit_check.h"
#include "core/kit/kit_file.h"

namespace ms::core::eval {

eval::TaskSuite loadKitSuite(const std::string& kitFile, const eval::SuiteOptions& options,
                             ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);

}  // namespace ms::core::eval
