#include "core/session/point_scorer.h"

#include <chrono>

#include "core/merge/method_registry.h"
#include "core/model/param_io.h"

namespace ms::core::session {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

PointScorer::PointScorer(const eval::TaskSuite& suite, merge::MergeEngine& engine, const proxy::TaskAlignmentProxy* proxy)
    : m_suite(suite), m_engine(engine), m_proxy(proxy) {}

double PointScorer::merge(const merge::MergeSpec& settings, ProgressSink& progress, const CancelToken* cancel) {
    const auto t0 = Clock::now();
    m_engine.update(settings);
    m_engine.prepare(progress, cancel);  // a learned method learns here; the others once per configuration
    const bool perTaskOutputs = m_engine.method().info().perTaskOutputs;
    const std::size_t T = m_suite.tasks.size(), outputs = perTaskOutputs ? T : 1;
    const auto& planned = m_engine.problem().plan().merged;
    m_buffers.resize(outputs);
    m_merged.assign(outputs, {});
    for (std::size_t o = 0; o < outputs; ++o) {
        m_engine.applyToMemory(perTaskOutputs ? static_cast<int>(o) : -1, m_buffers[o], nullProgress(), cancel);
        model::ParamMap views;
        for (std::size_t i = 0; i < planned.size(); ++i) views[planned[i].name] = model::viewFloats(m_buffers[o][i].data(), planned[i].shape);
        m_merged[o] = eval::toEncoder(m_suite, views);
    }
    m_perTask.clear();
    for (std::size_t t = 0; t < T; ++t) m_perTask.push_back(&m_merged[perTaskOutputs ? t : 0]);
    return since(t0);
}

store::PointRecord PointScorer::score(const merge::MergeSpec& settings, const eval::DownstreamOptions& downstream,
                                      const std::function<void(const std::string&)>& stage, ProgressSink& progress,
                                      const CancelToken* cancel) {
    store::PointRecord point;
    stage("merging");
    point.mergeSeconds = merge(settings, progress, cancel);
    point.artifacts = m_engine.artifacts();
    if (m_proxy) {
        stage("proxy");
        const auto t0 = Clock::now();
        point.proxy = m_proxy->scorePerTask(m_perTask, cancel);
        point.proxySeconds = since(t0);
    }
    if (downstream.mode != eval::DownstreamMode::None) {
        stage(std::string("downstream (") + eval::downstreamModeName(downstream.mode) + ")");
        const auto t0 = Clock::now();
        const bool perTaskOutputs = m_engine.method().info().perTaskOutputs;
        const auto d = eval::evaluateDownstream(m_suite, m_merged[0], downstream, cancel,
                                                perTaskOutputs ? m_perTask : std::vector<const model::ParamMap*>{});
        point.metric = d.metric;
        point.normalized = d.normalized;
        point.delta = d.delta;
        const std::size_t T = d.metrics.size();
        for (std::size_t t = 0; t < T; ++t)
            for (const auto& [metric, value] : d.metrics[t]) {
                auto& column = point.metrics[kit::metricName(metric)];
                if (column.empty()) column.assign(T, store::kMissing);
                column[t] = value;
            }
        point.downstreamSeconds = since(t0);
    }
    point.completedAt = store::isoNow();
    return point;
}

}  // namespace ms::core::session
