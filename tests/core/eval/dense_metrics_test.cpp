// The dense tasks' metrics and losses against numpy on fixed predictions and targets
// (tests/fixtures/metrics/make_metric_fixtures.py): ignored segmentation pixels, invalid depth and
// normals pixels, a class absent from the truth and one absent from both; metrics accumulated
// over two batches equal numpy's over the whole split.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/data/npy.h"
#include "core/eval/task_batches.h"
#include "tests/test_support.h"

namespace ms::core::eval {
namespace {

at::Tensor fixtureTensor(const std::string& name) {
    const data::NpyArray a = data::readNpy(test::fixture("metrics/" + name));
    at::Tensor t = at::from_blob(const_cast<float*>(a.values.data()), a.shape, at::kFloat).clone();
    return a.integral ? t.to(at::kLong) : t;
}

nlohmann::json expected() {
    std::ifstream in(test::fixture("metrics/expected.json"));
    return nlohmann::json::parse(in);
}

void expectMetrics(kit::TaskType type, int outputs, const std::string& prefix, const nlohmann::json& e) {
    kit::Task task;
    task.name = prefix;
    task.type = type;
    task.metric = kit::defaultMetric(type);
    task.outputs = outputs;
    const at::Tensor out = fixtureTensor(prefix + "_output.npy"), target = fixtureTensor(prefix + "_target.npy");
    MetricAccumulator acc(task);
    acc.add(out.narrow(0, 0, 2), target.narrow(0, 0, 2));  // two batches: sums, not a mean of batch means
    acc.add(out.narrow(0, 2, 2), target.narrow(0, 2, 2));
    const auto values = acc.values();
    ASSERT_EQ(values.size(), kit::metricsOf(type).size());
    for (const auto& [metric, value] : values) {
        SCOPED_TRACE(kit::metricName(metric));
        const double want = e.at(kit::metricName(metric)).get<double>();
        EXPECT_NEAR(value, want, 1e-4 * std::max(1.0, std::abs(want)));  // angles and errors in float32
    }
    EXPECT_EQ(acc.value(), values.front().second);  // the primary
    EXPECT_NEAR(taskLoss(task, out, target).item<double>(), e.at("loss").get<double>(), 1e-5);
}

TEST(DenseMetrics, SegmentationIgnoresUnlabelledPixelsAndCountsOnlyPresentClasses) {
    expectMetrics(kit::TaskType::Segmentation, 5, "seg", expected()["segmentation"]);
}

TEST(DenseMetrics, DepthLeavesInvalidPixelsOut) { expectMetrics(kit::TaskType::Depth, 1, "depth", expected()["depth"]); }

TEST(DenseMetrics, NormalsAnglesOverValidPixels) { expectMetrics(kit::TaskType::Normals, 3, "normals", expected()["normals"]); }

TEST(DenseMetrics, ABatchWithNothingValidHasZeroLossAndNoScore) {
    kit::Task seg{"s", "d", kit::TaskType::Segmentation, kit::Metric::MeanIoU, 3};
    const at::Tensor logits = at::randn({2, 3, 4, 4});
    const at::Tensor none = at::full({2, 4, 4}, -1, at::kLong);
    EXPECT_EQ(taskLoss(seg, logits, none).item<double>(), 0.0);
    MetricAccumulator acc(seg);
    acc.add(logits, none);
    EXPECT_TRUE(std::isnan(acc.value()));
    kit::Task depth{"d", "d", kit::TaskType::Depth, kit::Metric::AbsError, 1};
    const at::Tensor invalid = at::full({2, 1, 4, 4}, std::nan(""), at::kFloat);
    EXPECT_EQ(taskLoss(depth, at::rand({2, 1, 4, 4}), invalid).item<double>(), 0.0);
}

}  // namespace
}  // namespace ms::core::eval
