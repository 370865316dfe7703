// Metrics on hand-worked cases.
#include "core/kit/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/errors.h"

namespace ms::core::kit {
namespace {

TEST(Metrics, Accuracy) {
    EXPECT_DOUBLE_EQ(accuracy({1, 2, 3, 4}, {1, 2, 0, 4}), 0.75);
    EXPECT_THROW(accuracy({1}, {1, 2}), InvalidArgument);
}

TEST(Metrics, MeanIoUOverPresentClasses) {
    // truth 0 0 1 1 ; pred 0 1 1 1 → class 0: ∩1 ∪2 = 0.5; class 1: ∩2 ∪3 = 2/3.
    EXPECT_NEAR(meanIoU({0, 1, 1, 1}, {0, 0, 1, 1}, 3), (0.5 + 2.0 / 3.0) / 2, 1e-12);  // class 2 absent
    EXPECT_DOUBLE_EQ(meanIoU({1, 1}, {1, 1}, 2), 1.0);
    EXPECT_THROW(meanIoU({5}, {0}, 2), InvalidArgument);
}

TEST(Metrics, RmseAndNormalizedPerformance) {
    const float p[] = {1, 2, 3}, t[] = {1, 0, 3};
    EXPECT_NEAR(rmse(p, t, 3), std::sqrt(4.0 / 3.0), 1e-12);
    EXPECT_DOUBLE_EQ(normalizedPerformance(Metric::Accuracy, 0.8, 0.9), 0.8 / 0.9);
    EXPECT_DOUBLE_EQ(normalizedPerformance(Metric::Rmse, 0.2, 0.1), 0.5);  // twice the error: half as good
    EXPECT_EQ(parseMetric("miou"), Metric::MeanIoU);
    EXPECT_FALSE(higherIsBetter(Metric::Rmse));
}

}  // namespace
}  // namespace ms::core::kit
