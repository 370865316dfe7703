// Downstream evaluation on the reduced kit: an expert scores exactly its own score; head
// re-alignment repairs a deliberately misaligned head; representation re-alignment starts as
// the identity (zero-initialised adapters) and trains.
#include "core/eval/downstream.h"

#include <gtest/gtest.h>

#include "core/errors.h"
#include "core/kit/metrics.h"
#include "core/eval/task_batches.h"
#include "tests/core/eval/reduced_kit.h"

namespace ms::core::eval {
namespace {

using kit::Metric;
using kit::accuracy;
using kit::meanIoU;
using kit::rmse;

TEST(Downstream, StreamingMetricsEqualTheReferenceFunctions) {
    // Two batches through the accumulator vs kit::accuracy / meanIoU / rmse on everything at once.
    at::manual_seed(1);
    const kit::Task cls{"c", "x", demo::TaskType::Classification, Metric::Accuracy, 5};
    const kit::Task seg{"s", "x", demo::TaskType::Segmentation, Metric::MeanIoU, 3};
    const kit::Task reg{"r", "x", demo::TaskType::Regression, Metric::Rmse, 1};
    auto ints = [](const at::Tensor& t) {
        const at::Tensor c = t.to(at::kInt).contiguous().flatten();
        return std::vector<std::int32_t>(c.data_ptr<std::int32_t>(), c.data_ptr<std::int32_t>() + c.numel());
    };
    const at::Tensor logits = at::randn({40, 5}), labels = at::randint(0, 5, {40}, at::kLong);
    MetricAccumulator a(cls);
    a.add(logits.narrow(0, 0, 17), labels.narrow(0, 0, 17));
    a.add(logits.narrow(0, 17, 23), labels.narrow(0, 17, 23));
    EXPECT_DOUBLE_EQ(a.value(), accuracy(ints(logits.argmax(1)), ints(labels)));
    const at::Tensor segOut = at::randn({6, 3, 4, 4});
    at::Tensor truth = at::randint(0, 2, {6, 4, 4}, at::kLong);  // class 2 never true: only predicted
    MetricAccumulator m(seg);
    m.add(segOut.narrow(0, 0, 2), truth.narrow(0, 0, 2));
    m.add(segOut.narrow(0, 2, 4), truth.narrow(0, 2, 4));
    EXPECT_DOUBLE_EQ(m.value(), meanIoU(ints(segOut.argmax(1)), ints(truth), 3));
    const at::Tensor out = at::rand({5, 1, 3, 3}), target = at::rand({5, 1, 3, 3});
    MetricAccumulator r(reg);
    r.add(out.narrow(0, 0, 1), target.narrow(0, 0, 1));
    r.add(out.narrow(0, 1, 4), target.narrow(0, 1, 4));
    EXPECT_NEAR(r.value(), rmse(out.contiguous().data_ptr<float>(), target.contiguous().data_ptr<float>(), 45), 1e-7);
}

TEST(Downstream, ModeNames) {
    for (auto m : {DownstreamMode::None, DownstreamMode::Frozen, DownstreamMode::HeadRealign, DownstreamMode::ReprRealign})
        EXPECT_EQ(parseDownstreamMode(downstreamModeName(m)), m);
    EXPECT_THROW(parseDownstreamMode("linear-probe"), InvalidArgument);
}

TEST(Downstream, FrozenHeadsOnTheirOwnExpertGiveNormalizedOne) {
    const TaskSuite& suite = test::reducedSuite();
    DownstreamOptions o;
    o.mode = DownstreamMode::Frozen;
    for (std::size_t t = 0; t < suite.tasks.size(); ++t) {
        const DownstreamScores s = evaluateDownstream(suite, suite.experts[t], o);
        ASSERT_EQ(s.normalized.size(), suite.tasks.size());
        EXPECT_NEAR(s.metric[t], suite.tasks[t].expertScore, 1e-6) << suite.tasks[t].task.name;
        EXPECT_NEAR(s.normalized[t], 1.0, 1e-5);
    }
    // Per-task encoders: each task scored with its own expert → all ones.
    std::vector<const model::ParamMap*> perTask;
    for (const auto& e : suite.experts) perTask.push_back(&e);
    const DownstreamScores all = evaluateDownstream(suite, suite.base, o, nullptr, perTask);
    for (double v : all.normalized) EXPECT_NEAR(v, 1.0, 1e-5);
    EXPECT_NEAR(all.mean(), 1.0, 1e-5);
}

TEST(Downstream, HeadRealignmentRepairsAMisalignedHead) {
    const TaskSuite& suite = test::reducedSuite();
    const SuiteTask& task = suite.tasks[0];  // fashion-class
    ASSERT_EQ(task.task.name, "fashion-class");
    // Misaligned: the expert's class rows rotated by one, so every prediction names the wrong class.
    model::ParamMap bad = task.head;
    bad["head.weight"] = at::roll(bad["head.weight"], 1, 0);
    bad["head.bias"] = at::roll(bad["head.bias"], 1, 0);
    const at::Tensor train = encodeSet(suite.config(), suite.experts[0], *task.realign).tokens;
    std::vector<std::size_t> all(static_cast<std::size_t>(task.realign->count));
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    const at::Tensor targets = labelTargets(*task.realign, all);
    const at::Tensor eval = encodeSet(suite.config(), suite.experts[0], *task.eval).tokens;
    std::vector<std::size_t> evalIdx(static_cast<std::size_t>(task.eval->count));
    for (std::size_t i = 0; i < evalIdx.size(); ++i) evalIdx[i] = i;
    auto accuracy = [&](const model::ParamMap& h) {
        MetricAccumulator m(task.task);
        m.add(model::headForward(task.headConfig, h, eval), labelTargets(*task.eval, evalIdx));
        return m.value();
    };
    const double before = accuracy(bad);
    const model::ParamMap fixed = realignHead(task.task, task.headConfig, bad, train, targets, 200, 64, 1e-2, 0);
    const double after = accuracy(fixed);
    EXPECT_GT(after, before + 0.15) << "before " << before << ", after " << after;
    EXPECT_GT(after, 0.3);
    // Deterministic for a seed.
    EXPECT_TRUE(at::equal(realignHead(task.task, task.headConfig, bad, train, targets, 20, 64, 1e-2, 0).at("head.weight"),
                          realignHead(task.task, task.headConfig, bad, train, targets, 20, 64, 1e-2, 0).at("head.weight")));
}

TEST(Downstream, ReprRealignWithoutStepsIsFrozenAndTrainingHelpsAMergedEncoder) {
    const TaskSuite& suite = test::reducedSuite();
    model::ParamMap merged;  // θ0 + Σ τ_t: far from every expert
    for (const auto& [n, b] : suite.base) {
        at::Tensor m = b.clone();
        for (const auto& e : suite.experts) m += e.at(n) - b;
        merged[n] = m;
    }
    DownstreamOptions frozen;
    frozen.mode = DownstreamMode::Frozen;
    DownstreamOptions repr;
    repr.mode = DownstreamMode::ReprRealign;
    repr.reprSteps = 0;
    const double f = evaluateDownstream(suite, merged, frozen).mean();
    EXPECT_NEAR(evaluateDownstream(suite, merged, repr).mean(), f, 1e-9);  // B = 0: the adapters change nothing
    repr.reprSteps = 40;
    repr.reprLr = 3e-3;
    EXPECT_GT(evaluateDownstream(suite, merged, repr).mean(), f);
    // One encoder per task cannot be trained jointly.
    std::vector<const model::ParamMap*> perTask;
    for (const auto& e : suite.experts) perTask.push_back(&e);
    EXPECT_THROW(evaluateDownstream(suite, merged, repr, nullptr, perTask), InvalidArgument);
}

}  // namespace
}  // namespace ms::core::eval
