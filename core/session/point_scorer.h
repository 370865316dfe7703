// "Score point": one merge setting → merged encoders → proxy and downstream scores. The one path
// the sweep runner and the workbench's live preview share (a preview is a point without
// downstream, on small probe sets). It owns the float buffers the engine applies into (reused
// from point to point: no page faults on fresh memory) and wraps them as encoders without
// copying. One caller at a time.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/eval/downstream.h"
#include "core/eval/task_suite.h"
#include "core/jobs/progress.h"
#include "core/merge/merge_engine.h"
#include "core/proxy/task_alignment.h"
#include "core/store/experiment.h"

namespace ms::core::session {

class PointScorer {
public:
    // `engine` and `suite` must outlive the scorer; `proxy` may be null (no proxy).
    PointScorer(const eval::TaskSuite& suite, merge::MergeEngine& engine, const proxy::TaskAlignmentProxy* proxy);

    // Merges `settings` on the engine (update, prepare when stale, apply): the merged encoders,
    // one per task for per-task methods (views into the scorer's buffers, valid until the next
    // call). Returns the seconds it took.
    double merge(const merge::MergeSpec& settings, ProgressSink& progress, const CancelToken* cancel);
    // The encoder each task is scored with, after merge().
    const std::vector<const model::ParamMap*>& perTask() const { return m_perTask; }

    // A sweep point: merge, then the proxy variants and (mode != None) downstream, timed; the
    // artifacts of a learned method. `stage` hears "merging", "proxy", "downstream (...)".
    store::PointRecord score(const merge::MergeSpec& settings, const eval::DownstreamOptions& downstream,
                             const std::function<void(const std::string&)>& stage, ProgressSink& progress,
                             const CancelToken* cancel);

private:
    const eval::TaskSuite& m_suite;
    merge::MergeEngine& m_engine;
    const proxy::TaskAlignmentProxy* m_proxy;
    std::vector<std::vector<std::vector<float>>> m_buffers;  // per output, per merged tensor
    std::vector<model::ParamMap> m_merged;                    // per output
    std::vector<const model::ParamMap*> m_perTask;
};

}  // namespace ms::core::session
