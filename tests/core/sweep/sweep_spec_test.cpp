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
    s.kind = SweepKind::Relations;
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
    s.merge.method = "ties";
    s.merge.params = {{"density", 0.2}, {"topk_scope", std::string("per_tensor")}};
    s.merge.models = {{"", "a", {{"weight", 0.1 + 0.2}}, ""}, {"", "b", {}, ""}};  // 0.30000000000000004: kept exactly
    s.axes = {parseGridAxis("lambda=0:1:3"), parseGridAxis("weight[a]=0.5,1")};
    s.sampling = parseTaskSampling("lhs:4:0.1:0.9");
    s.seed = 9;
    s.merge.lambda.blockCurve = {0.2, 0.9};
    const SweepSpec back = SweepSpec::fromJson(s.toJson());
    EXPECT_EQ(back.merge.lambda.blockCurve, s.merge.lambda.blockCurve);
    EXPECT_EQ(std::get<std::string>(back.merge.params.at("topk_scope")), "per_tensor");
    EXPECT_EQ(std::get<double>(back.merge.models[0].params.at("weight")), 0.1 + 0.2);
    EXPECT_EQ(back.toJson(), s.toJson());
    EXPECT_EQ(planSweep(back, kTasks).points, planSweep(s, kTasks).points);
}

}  // namespace
}  // namespace ms::core::sweep

namespace ms::core::sweep {
namespace {

// Experiment files of schema 1 kept the fixed settings as --set strings; they still read.
TEST(SweepSpec, ReadsTheSchema1Form) {
    const SweepSpec s = SweepSpec::fromJson(
        R"({"kind":"merge","method":"ties","sets":["density=0.2","topk_scope=per_tensor","weight=0.5,1.5"],)"
        R"("axes":[{"param":"lambda","task":"","values":[0.5,1.0]}],)"
        R"("task_weights":{"kind":"none","count":0,"lo":0,"hi":1,"param":"weight"},"seed":3,"lambda_blocks":[0.1,0.9]})");
    EXPECT_EQ(s.merge.method, "ties");
    EXPECT_EQ(std::get<std::string>(s.merge.params.at("density")), "0.2");  // validated (and parsed) by MethodArgs
    EXPECT_EQ(std::get<std::string>(s.merge.params.at("topk_scope")), "per_tensor");
    ASSERT_EQ(s.merge.models.size(), 2u);
    EXPECT_EQ(std::get<std::string>(s.merge.models[1].params.at("weight")), "1.5");
    EXPECT_EQ(s.merge.lambda.blockCurve, (std::vector<double>{0.1, 0.9}));
    EXPECT_EQ(s.seed, 3u);
}

}  // namespace
}  // namespace ms::core::sweep

namespace ms::core::sweep {
namespace {

TEST(SweepShards, EveryPointIsInExactlyOneShardForAnyShardCount) {
    for (std::size_t P = 1; P <= 40; ++P) {
        for (int N = 1; N <= static_cast<int>(P); ++N) {
            std::vector<int> seen(P, 0);
            std::size_t smallest = P, largest = 0, next = 0;
            for (int I = 1; I <= N; ++I) {
                const auto mine = shardPoints(P, {I, N});
                smallest = std::min(smallest, mine.size());
                largest = std::max(largest, mine.size());
                for (std::size_t i : mine) {
                    ASSERT_LT(i, P);
                    ++seen[i];
                    ASSERT_EQ(i, next++) << "shards are contiguous blocks in plan order";
                }
            }
            for (std::size_t i = 0; i < P; ++i) ASSERT_EQ(seen[i], 1) << "P=" << P << " N=" << N << " point " << i;
            EXPECT_LE(largest - smallest, 1u) << "P=" << P << " N=" << N;
            EXPECT_GE(smallest, 1u);
        }
        EXPECT_THROW(shardPoints(P, {1, static_cast<int>(P) + 1}), InvalidArgument);
    }
}

TEST(SweepShards, ShardTextIsIOverNWithIFromOne) {
    const Shard s = parseShard("2/4");
    EXPECT_EQ(s.index, 2);
    EXPECT_EQ(s.count, 4);
    EXPECT_EQ(s.text(), "2/4");
    EXPECT_EQ(parseShard("1/1").text(), "");  // the whole sweep
    for (const char* bad : {"0/3", "4/3", "a/b", "2", "1/0", "1/2x", "-1/2", "/2", "1/"})
        EXPECT_THROW(parseShard(bad), InvalidArgument) << bad;
}

}  // namespace
}  // namespace ms::core::sweep
