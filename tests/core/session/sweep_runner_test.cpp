// Sweeps end to end on the reduced kit: points recorded with proxy, downstream and timings,
// prepare once per λ-independent configuration, resume skips done points, cancellation keeps
// the completed ones, relations sweeps add one task vector at a time.
#include "core/session/sweep_runner.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/errors.h"
#include "core/merge/recipe.h"
#include "core/store/experiment_store.h"
#include "tests/core/eval/reduced_kit.h"
#include "tests/test_support.h"

namespace ms::core::session {
namespace {

using namespace ms::core::sweep;

SweepOptions taLambda(const std::string& grid, eval::DownstreamMode mode = eval::DownstreamMode::Frozen) {
    SweepOptions o;
    o.spec.merge.method = "task_arithmetic";
    o.spec.axes = {parseGridAxis(grid)};
    o.scoring.proxies = {"task-alignment", "weight-space"};
    o.scoring.downstream.mode = mode;
    return o;
}

TEST(SweepRunner, RecordsEveryPointAndResumeSkipsThem) {
    const eval::TaskSuite& suite = test::reducedSuite();
    store::Experiment exp;
    int commits = 0, added = 0;
    const CommitFn count = [&](const store::Experiment&, const store::SweepRecord&, bool pointAdded) {
        ++commits;
        added += pointAdded;
    };
    const std::string id = runSweep(suite, taLambda("lambda=0:1:3"), exp, count);
    EXPECT_EQ(commits, 3);  // one per point, the last one marks it complete
    EXPECT_EQ(added, 3);
    const store::SweepRecord& s = *exp.findSweep(id);
    EXPECT_EQ(s.status, store::SweepStatus::Complete);
    EXPECT_EQ(s.tasks, suite.taskNames());
    EXPECT_EQ(s.paramNames, (std::vector<std::string>{"lambda"}));
    ASSERT_EQ(s.points.size(), 3u);
    EXPECT_EQ(exp.inputs.size(), 6u);
    EXPECT_EQ(exp.inputs[0].hash, suite.kit.baseHash);
    for (const auto& p : s.points) {
        ASSERT_EQ(p.proxy.at("task-alignment").size(), 5u);
        ASSERT_EQ(p.normalized.size(), 5u);
        EXPECT_GT(p.proxySeconds, 0.0);
        EXPECT_GT(p.downstreamSeconds, 0.0);
    }
    // λ = 0 is the base: proxy 0 for every task.
    for (double v : s.points[0].proxy.at("task-alignment")) EXPECT_NEAR(v, 0.0, 1e-6);
    // Weight space: TA's merged task vector Σ τ_t has the same direction at every λ > 0.
    EXPECT_NEAR(s.points[1].proxyMean("weight-space"), s.points[2].proxyMean("weight-space"), 1e-9);

    // Resume: nothing left to do, no new point, one commit marking it complete.
    commits = added = 0;
    SweepOptions again = taLambda("lambda=0:1:3");
    again.resume = true;
    EXPECT_EQ(runSweep(suite, again, exp, count), id);
    EXPECT_EQ(exp.findSweep(id)->points.size(), 3u);
    EXPECT_EQ(commits, 1);
    EXPECT_EQ(added, 0);
    // Without resume, a new sweep.
    EXPECT_NE(runSweep(suite, taLambda("lambda=0.5:1:1"), exp, count), id);
    EXPECT_EQ(exp.sweeps.size(), 2u);
}

TEST(SweepRunner, CancelKeepsCompletedPointsAndResumeFinishes) {
    const eval::TaskSuite& suite = test::reducedSuite();
    test::TempDir tmp;
    store::Experiment exp;
    CancelToken cancel;
    const CommitFn save = [&](const store::Experiment& e, const store::SweepRecord& r, bool) {
        store::writeExperiment(tmp.path("exp.h5"), e);
        if (r.points.size() == 2) cancel.cancel();  // stops inside the third point
    };
    EXPECT_THROW(runSweep(suite, taLambda("lambda=0:1:5"), exp, save, nullProgress(), &cancel), Cancelled);
    store::Experiment onDisk = store::readExperiment(tmp.path("exp.h5"));
    ASSERT_EQ(onDisk.sweeps.size(), 1u);
    EXPECT_EQ(onDisk.sweeps[0].status, store::SweepStatus::Cancelled);
    EXPECT_EQ(onDisk.sweeps[0].points.size(), 2u);
    const std::vector<double> first = onDisk.sweeps[0].points[0].params;

    SweepOptions resume = taLambda("lambda=0:1:5");
    resume.resume = true;
    std::vector<std::vector<double>> computed;
    const CommitFn track = [&](const store::Experiment& e, const store::SweepRecord& r, bool) {
        store::writeExperiment(tmp.path("exp.h5"), e);
        computed.push_back(r.points.back().params);
    };
    runSweep(suite, resume, onDisk, track);
    EXPECT_EQ(computed.size(), 3u);  // only the three missing points
    for (const auto& c : computed) EXPECT_NE(c, first);
    const store::Experiment done = store::readExperiment(tmp.path("exp.h5"));
    EXPECT_EQ(done.sweeps[0].status, store::SweepStatus::Complete);
    EXPECT_EQ(done.sweeps[0].points.size(), 5u);
}

TEST(SweepRunner, GridsPerTaskWeightsTiesAndPerTaskMethods) {
    const eval::TaskSuite& suite = test::reducedSuite();
    store::Experiment exp;
    const CommitFn none = [](const store::Experiment&, const store::SweepRecord&, bool) {};
    SweepOptions ties;
    ties.spec.merge.method = "ties";
    ties.spec.axes = {parseGridAxis("density=0.1,0.3"), parseGridAxis("lambda=0.5,1")};
    ties.scoring.downstream.mode = eval::DownstreamMode::None;
    const auto& s = *exp.findSweep(runSweep(suite, ties, exp, none));
    EXPECT_EQ(s.points.size(), 4u);
    EXPECT_FALSE(s.points[0].hasDownstream());

    SweepOptions weights;
    weights.spec.axes = {parseGridAxis("weight[digits-class]=0,1")};
    weights.spec.merge.params["lambda"] = 1.0;
    weights.scoring.proxies = {"weight-space"};
    weights.scoring.downstream.mode = eval::DownstreamMode::None;
    const auto& w = *exp.findSweep(runSweep(suite, weights, exp, none));
    // Without digits' task vector the merge is further from the digits expert.
    EXPECT_LT(w.points[0].proxy.at("weight-space")[4], w.points[1].proxy.at("weight-space")[4]);

    // A per-block λ curve: blocks at λ 0, the rest (embeddings, final norm) at the global λ 1.
    SweepOptions flat, curve;
    for (SweepOptions* o : {&flat, &curve}) {
        o->spec.merge.params["lambda"] = 1.0;
        o->scoring.proxies = {"weight-space"};
        o->scoring.downstream.mode = eval::DownstreamMode::None;
    }
    curve.spec.merge.lambda.blockCurve = {0.0, 0.0};
    const double flatProxy = exp.findSweep(runSweep(suite, flat, exp, none))->points[0].proxyMean("weight-space");
    const auto& curved = *exp.findSweep(runSweep(suite, curve, exp, none));
    EXPECT_NE(curved.points[0].proxyMean("weight-space"), flatProxy);
    EXPECT_NE(core::merge::saveRecipe(curved.spec.merge).find("0"), std::string::npos);  // the recipe the file keeps
    EXPECT_EQ(SweepSpec::fromJson(curved.spec.toJson()).merge.lambda.blockCurve, (std::vector<double>{0.0, 0.0}));

    SweepOptions tall;  // one model per task
    tall.spec.merge.method = "tall_masks";
    tall.scoring.downstream.mode = eval::DownstreamMode::Frozen;
    const auto& t = *exp.findSweep(runSweep(suite, tall, exp, none));
    ASSERT_EQ(t.points.size(), 1u);
    EXPECT_EQ(t.points[0].normalized.size(), 5u);

    SweepOptions wrong = taLambda("densty=0.1,0.2");
    EXPECT_THROW(runSweep(suite, wrong, exp, none), InvalidArgument);
    tall.scoring.downstream.mode = eval::DownstreamMode::ReprRealign;
    EXPECT_THROW(runSweep(suite, tall, exp, none), InvalidArgument);
}

TEST(SweepRunner, RelationsAddOneTaskVectorAtATime) {
    const eval::TaskSuite& suite = test::reducedSuite();
    store::Experiment exp;
    SweepOptions o;
    o.spec.kind = store::SweepKind::Relations;
    o.spec.axes = {parseGridAxis("lambda=0,1")};
    o.scoring.proxies = {"weight-space"};
    const auto& r = *exp.findSweep(runSweep(suite, o, exp, [](const store::Experiment&, const store::SweepRecord&, bool) {}));
    EXPECT_EQ(r.kind(), store::SweepKind::Relations);
    ASSERT_EQ(r.points.size(), 10u);  // 5 tasks × 2 λ
    for (const auto& p : r.points) {
        const auto t = static_cast<std::size_t>(p.params[0]);
        if (p.params[1] == 1.0) {
            // θ0 + τ_t is the expert t: its own task at normalized 1, weight-space 1.
            EXPECT_NEAR(p.normalized[t], 1.0, 0.02);  // θ0 + 1·τ_t equals θ_t up to rounding
            EXPECT_NEAR(p.proxy.at("weight-space")[t], 1.0, 1e-6);
        }
    }
}

// One typed stream: Started (with the experiment and its record) first, a PointCommitted per point
// (the point already committed), progress in between, Finished last; a cancelled run ends with
// Finished saying "cancelled"; a run whose commit fails ends with Failed naming why.
TEST(SweepRun, EmitsOneTypedEventStream) {
    const eval::TaskSuite& suite = test::reducedSuite();
    using Kind = SweepEvent::Kind;
    std::vector<Kind> kinds;
    std::vector<std::string> stages;
    std::size_t committedPoints = 0;
    store::Experiment exp;
    SweepRun run(suite, taLambda("lambda=0:1:3", eval::DownstreamMode::None));
    EXPECT_EQ(run.plan().points.size(), 3u);  // planned once, kept
    run.run(exp, [&](const store::Experiment&, const store::SweepRecord& r, bool) { committedPoints = r.points.size(); },
            [&](const SweepEvent& e) {
                kinds.push_back(e.kind);
                if (e.kind == Kind::Started) {
                    ASSERT_NE(e.experiment, nullptr);
                    ASSERT_NE(e.sweep, nullptr);
                    EXPECT_EQ(e.sweep->plannedPoints, 3);
                }
                if (e.kind == Kind::PointCommitted) {
                    EXPECT_EQ(e.sweep->points.size(), committedPoints);
                }
                if (e.kind == Kind::Progress) stages.push_back(e.progress.stage);
                if (e.kind == Kind::Finished) {
                    EXPECT_EQ(e.progress.stage, "complete");
                }
            });
    ASSERT_FALSE(kinds.empty());
    EXPECT_EQ(kinds.front(), Kind::Started);
    EXPECT_EQ(kinds.back(), Kind::Finished);
    EXPECT_EQ(std::count(kinds.begin(), kinds.end(), Kind::PointCommitted), 3);
    EXPECT_NE(std::find(stages.begin(), stages.end(), "proxy"), stages.end());

    CancelToken cancel;
    std::string last;
    store::Experiment cancelled;
    EXPECT_THROW(SweepRun(suite, taLambda("lambda=0:1:4", eval::DownstreamMode::None))
                     .run(cancelled, [&](const store::Experiment&, const store::SweepRecord& r, bool) { if (r.points.size() == 1) cancel.cancel(); },
                          [&](const SweepEvent& e) { if (e.kind == Kind::Finished) last = e.progress.stage; }, &cancel),
                 Cancelled);
    EXPECT_EQ(last, "cancelled");

    std::string failure;
    store::Experiment failing;
    EXPECT_THROW(SweepRun(suite, taLambda("lambda=0:1:2", eval::DownstreamMode::None))
                     .run(failing, [](const store::Experiment&, const store::SweepRecord&, bool) { throw OutputError("exp.h5", "disk full"); },
                          [&](const SweepEvent& e) { if (e.kind == Kind::Failed) failure = e.message; }),
                 OutputError);
    EXPECT_NE(failure.find("disk full"), std::string::npos) << failure;
}

TEST(SweepRunner, AnotherKitsExperimentIsRefused) {
    const eval::TaskSuite& suite = test::reducedSuite();
    store::Experiment exp;
    exp.inputs.push_back({"base", "", "/elsewhere/base.safetensors", "0123"});
    EXPECT_THROW(runSweep(suite, taLambda("lambda=1:1:1"), exp, [](const store::Experiment&, const store::SweepRecord&, bool) {}),
                 InvalidArgument);
}

}  // namespace
}  // namespace ms::core::session
