// The demo kit as a task suite: its manifest, experts and heads, Fashion-MNIST and MNIST drawn
// into probe, re-alignment and eval sets, dense targets computed from the pixels. One producer
// of suites beside the kit files of core/kit (session::loadSuite takes either).
#pragma once

#include <string>

#include "core/eval/task_suite.h"

namespace ms::core::demo {

// Loads and verifies the kit in `dir`, reads its data and draws the sets. The experts' scores
// are those of the kit when the eval split is whole, else recomputed on the limited split.
eval::TaskSuite loadDemoSuite(const std::string& dir, const eval::SuiteOptions& options,
                              ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);

}  // namespace ms::core::demo
