// A reduced demo kit (a few seconds of training), built once per test process, and a task suite
// on it with small data sets. Shared by the proxy, downstream and sweep tests.
#pragma once

#include "core/demo/demo_kit.h"
#include "core/eval/task_suite.h"
#include "core/eval/kit_suite.h"

namespace ms::test {

const core::demo::KitManifest& reducedKit();
core::eval::SuiteOptions reducedSuiteOptions();
const core::eval::TaskSuite& reducedSuite();

}  // namespace ms::test
