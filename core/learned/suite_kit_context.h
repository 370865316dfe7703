// merge::KitContext on a loaded kit (eval::TaskSuite): the learned methods' `prepare` runs
// AdaMerging or CALM here and gets the merged tensors, the artifacts a sweep point keeps (loss;
// coefficients or mask densities) and the summary a merged file's metadata keeps. The suite's
// tensor names are the kit's checkpoint names (the demo kit writes them so).
#pragma once

#include "core/eval/task_suite.h"
#include "core/merge/kit_context.h"

namespace ms::core::learned {

class SuiteKitContext final : public merge::KitContext {
public:
    explicit SuiteKitContext(const eval::TaskSuite& suite) : m_suite(suite) {}  // the suite must outlive this
    std::string kitDir() const override { return m_suite.kit.path; }
    merge::LearnedWeights learn(const merge::MethodInfo& method, const merge::MethodArgs& args, ProgressSink& progress,
                                const CancelToken* cancel) const override;

private:
    const eval::TaskSuite& m_suite;
};

}  // namespace ms::core::learned
