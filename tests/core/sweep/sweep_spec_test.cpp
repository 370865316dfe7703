// Sweep specs: grid syntax, Cartesian products, seeded per-task sampling, relations plans.
#include "core/sweep/sweep_spec.h"

#include <gtest/gtest.h>

#include <set>

#include "core/errors.h"

namespace ms::core::sweep {
namespace {

const std::vector<std::string> kTasks = {"a", "b", "c"};

TEST(SweepSpec, GridAxesParse) {
    const GridAxis l = parseGridAxis("lambda=0:1.5:16");
    EXPECT_EQ(l.label(), "lambda");
    ASSERT_EQ(l.values.size(), 16u);
    EXPECT_DOUBLE_EQ(l.values.front(), 0.0);
    EXPECT_DOUBLE_EQ(l.values.back(), 1.5);
    EXPECT_NEAR(l.values[1], 0.1, 1e-15);
    EXPECT_EQ(parseGridAxis("density=0.1,0.2,0.4").values, (std::vector<double>{0.1, 0.2, 0.4}));
    EXPECT_EQ(parseGridAxis("lambda=0.3:9:1").values, (std::vector<double>{0.3}));
    const GridAxis w = parseGridAxis("weight[b]=0:1:3");
    EXPECT_EQ(w.param, "weight");
    EXPECT_EQ(w.task, "b");
    EXPECT_EQ(w.label(), "weight[b]");
    for (const char* bad : {"lambda", "=1", "lambda=", "lambda=0:1", "lambda=0:1:0", "lambda=0:1:2.5", "lambda=x,1", "lambda=1,,2"})
        EXPECT_THROW(parseGridAxis(bad), InvalidArgument) << bad;
}

TEST(SweepSpec, CartesianProductWithLastAxisFastest) {
    SweepSpec s;
    s.axes = {parseGridAxis("density=0.1,0.2"), parseGridAxis("lambda=0:1:3")};
    const SweepPlan p = planSweep(s, kTasks);
    EXPECT_EQ(p.paramNames, (std::vector<std::string>{"density", "lambda"}));
    ASSERT_EQ(p.points.size(), 6u);
    EXPECT_EQ(p.points[0], (std::vector<double>{0.1, 0.0}));
    EXPECT_EQ(p.points[1], (std::vector<double>{0.1, 0.5}));
    EXPECT_EQ(p.points[5], (std::vector<double>{0.2, 1.0}));
    // No axis: one point at the method's settings.
    EXPECT_EQ(planSweep(SweepSpec{}, kTasks).points.size(), 1u);
    s.axes.push_back(parseGridAxis("weight[zzz]=0,1"));
    EXPECT_THROW(planSweep(s, kTasks), InvalidArgument);
}

TEST(SweepSpec, LatinHypercubeCoversEveryStratumOncePerTask) {
    SweepSpec s;
    s.sampling = parseTaskSampling("lhs:8:0:2");
    s.seed = 5;
    const SweepPlan p = planSweep(s, kTasks);
    EXPECT_EQ(p.paramNames, (std::vector<std::string>{"weight[a]", "weight[b]", "weight[c]"}));
    ASSERT_EQ(p.points.size(), 8u);
    for (std::size_t t = 0; t < 3; ++t) {
        std::set<int> strata;
        for (const auto& pt : p.points) {
            EXPECT_GE(pt[t], 0.0);
            EXPECT_LT(pt[t], 2.0);
            strata.insert(static_cast<int>(pt[t] / 2.0 * 8));
        }
        EXPECT_EQ(strata.size(), 8u) << "task " << t;
    }
    EXPECT_EQ(planSweep(s, kTasks).points, p.points);  // seeded
    s.seed = 6;
    EXPECT_NE(planSweep(s, kTasks).points, p.points);
    // Random samples crossed with a grid axis.
    SweepSpec r;
    r.axes = {parseGridAxis("lambda=0.5,1")};
    r.sampling = parseTaskSampling("random:4");
    EXPECT_EQ(planSweep(r, kTasks).points.size(), 8u);
    for (const char* bad : {"lhs", "grid:3", "lhs:0", "random:3:1:0", "lhs:2:a:b"})
        EXPECT_THROW(parseTaskSampling(bad), InvalidArgument) << bad;
}

TEST(SweepSpec, RelationsPlanAddsOneTaskAtATime) {
    SweepSpec s;
    s.kind = "relations";
    s.axes = {parseGridAxis("lambda=0:1:2")};
    const SweepPlan p = planSweep(s, kTasks);
    EXPECT_EQ(p.paramNames, (std::vector<std::string>{"task", "lambda"}));
    ASSERT_EQ(p.points.size(), 6u);
    EXPECT_EQ(p.points[3], (std::vector<double>{1, 1}));
    s.axes = {parseGridAxis("density=0,1")};
    EXPECT_THROW(planSweep(s, kTasks), InvalidArgument);
}

TEST(SweepSpec, JsonRoundTrip) {
    SweepSpec s;
    s.method = "ties";
    s.sets = {"density=0.2"};
    s.axes = {parseGridAxis("lambda=0:1:3"), parseGridAxis("weight[a]=0.5,1")};
    s.sampling = parseTaskSampling("lhs:4:0.1:0.9");
    s.seed = 9;
    s.lambdaBlocks = {0.2, 0.9};
    const SweepSpec back = SweepSpec::fromJson(s.toJson());
    EXPECT_EQ(back.lambdaBlocks, s.lambdaBlocks);
    EXPECT_EQ(back.toJson(), s.toJson());
    EXPECT_EQ(planSweep(back, kTasks).points, planSweep(s, kTasks).points);
}

}  // namespace
}  // namespace ms::core::sweep
