// The experiment file: lossless round trip, atomic saves that survive a writer killed mid-way,
// clear errors for files of a newer schema or of another kind.
#include "core/store/experiment_store.h"
#include "core/sweep/sweep_spec.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "core/errors.h"
#include "tests/test_support.h"

namespace ms::core::store {
namespace {

PointRecord samplePoint(int i) {
    PointRecord p;
    p.params = {0.1 * i};
    p.proxy["task-alignment"] = {0.5 + 0.01 * i, 0.4};
    p.proxy["weight-space"] = {0.7, 0.6};
    p.metric = {0.8, 0.05 + 0.001 * i};
    p.normalized = {0.9 + 0.001 * i, 0.95};
    p.metrics["accuracy"] = {0.8, kMissing};
    p.metrics["rmse"] = {kMissing, 0.05 + 0.001 * i};
    p.delta = {0.001 * i - 0.1, -0.05};
    p.mergeSeconds = 0.01;
    p.proxySeconds = 0.1;
    p.downstreamSeconds = 2.5;
    p.completedAt = "2026-11-23T10:01:0" + std::to_string(i % 10) + "Z";
    return p;
}

Experiment sample(int points) {
    Experiment e;
    e.created = "2026-11-23T10:00:00Z";
    e.modified = "2026-11-23T10:05:00Z";
    e.kitDir = "/kits/demo";
    e.kitManifest = "mergescope_kit: 2\nseed: 0\n";
    e.inputs = {{"base", "", "/kits/demo/base.safetensors", "00ff"}, {"expert", "a", "/kits/demo/a.safetensors", "11ee"},
                {"expert", "b", "/kits/demo/b.safetensors", "22dd"}};
    SweepRecord s;
    s.id = "sweep-001";
    s.spec.merge.method = "task_arithmetic";
    s.spec.merge.base = "/kits/demo/base.safetensors";
    s.spec.axes = {sweep::parseGridAxis("lambda=0:1:5")};
    s.tasks = {"a", "b"};
    s.paramNames = {"lambda"};
    s.metricNames = {"accuracy", "rmse"};
    s.scoring.proxies = {"task-alignment", "weight-space"};
    s.scoring.downstream.mode = sweep::DownstreamMode::Frozen;
    s.scoring.data.probeSize = 32;
    s.created = e.created;
    s.plannedPoints = points;
    for (int i = 0; i < points; ++i) s.points.push_back(samplePoint(i));
    e.sweeps.push_back(s);
    SweepRecord empty;
    empty.id = "sweep-002";
    empty.spec = sweep::relationsSweep(sweep::parseGridAxis("lambda=0,1"));
    empty.tasks = {"a", "b"};
    empty.paramNames = {"task", "lambda"};
    empty.plannedPoints = 4;
    e.sweeps.push_back(empty);
    return e;
}

TEST(ExperimentStore, RoundTripsEveryField) {
    test::TempDir tmp;
    const Experiment e = sample(5);
    writeExperiment(tmp.path("exp.h5"), e);
    const Experiment r = readExperiment(tmp.path("exp.h5"));
    EXPECT_EQ(r.schemaVersion, kSchemaVersion);
    EXPECT_EQ(r.toolVersion, MS_VERSION);
    EXPECT_EQ(r.created, e.created);
    EXPECT_EQ(r.kitManifest, e.kitManifest);
    ASSERT_EQ(r.inputs.size(), 3u);
    EXPECT_EQ(r.inputs[2].task, "b");
    EXPECT_EQ(r.inputs[2].hash, "22dd");
    ASSERT_EQ(r.sweeps.size(), 2u);
    const SweepRecord& s = r.sweeps[0];
    EXPECT_EQ(s.spec.toJson(), e.sweeps[0].spec.toJson());
    EXPECT_EQ(s.scoring, e.sweeps[0].scoring);
    EXPECT_EQ(s.proxies(), e.sweeps[0].proxies());
    EXPECT_EQ(s.downstream(), "frozen");
    EXPECT_EQ(s.plannedPoints, 5);
    ASSERT_EQ(s.points.size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) {
        const auto& a = s.points[i];
        const auto& b = e.sweeps[0].points[i];
        EXPECT_EQ(a.params, b.params);
        EXPECT_EQ(a.proxy, b.proxy);
        EXPECT_EQ(a.metric, b.metric);
        EXPECT_EQ(a.normalized, b.normalized);
        EXPECT_EQ(a.delta, b.delta);
        ASSERT_EQ(a.metrics.size(), 2u);
        EXPECT_EQ(a.metrics.at("accuracy")[0], 0.8);
        EXPECT_TRUE(std::isnan(a.metrics.at("accuracy")[1]));
        EXPECT_EQ(a.metrics.at("rmse")[1], b.metrics.at("rmse")[1]);
        EXPECT_DOUBLE_EQ(a.deltaMtl(), (b.delta[0] + b.delta[1]) / 2);
        EXPECT_EQ(a.downstreamSeconds, b.downstreamSeconds);
        EXPECT_EQ(a.completedAt, b.completedAt);
    }
    EXPECT_EQ(r.sweeps[1].kind(), SweepKind::Relations);
    EXPECT_TRUE(r.sweeps[1].points.empty());
    EXPECT_EQ(r.sweeps[1].paramNames, (std::vector<std::string>{"task", "lambda"}));
    // Summaries are computed from the points: proxy and downstream both rise with λ here.
    EXPECT_EQ(s.metricNames, e.sweeps[0].metricNames);
    const auto q = s.summaries();
    ASSERT_EQ(q.size(), 2u);
    EXPECT_EQ(q[0].downstream, DownstreamAggregate::DeltaMtl);
    EXPECT_EQ(r.sweeps[1].summaries().size(), 0u);
    EXPECT_NEAR(q[0].spearman, 1.0, 1e-12);
    EXPECT_NEAR(q[0].costRatio, 25.0, 1e-12);
    EXPECT_EQ(s.findPoint({0.2}), 2);
    EXPECT_EQ(s.findPoint({0.25}), -1);
    // Nothing but the file is left behind.
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmp.dir()), std::filesystem::directory_iterator()), 1);
}

TEST(ExperimentStore, PointsWithoutDownstreamStayWithout) {
    test::TempDir tmp;
    Experiment e = sample(2);
    e.sweeps[0].points[1].metric.clear();
    e.sweeps[0].points[1].normalized.clear();
    e.sweeps[0].points[1].proxy.erase("weight-space");
    writeExperiment(tmp.path("exp.h5"), e);
    const Experiment back = readExperiment(tmp.path("exp.h5"));
    const auto& p = back.sweeps[0].points[1];
    EXPECT_FALSE(p.hasDownstream());
    EXPECT_TRUE(std::isnan(p.downstreamMean()));
    EXPECT_EQ(p.proxy.count("weight-space"), 0u);
}

TEST(ExperimentStore, NewerSchemaAndForeignFilesAreRefusedClearly) {
    test::TempDir tmp;
    writeExperiment(tmp.path("new.h5"), sample(1));
    {
        const hid_t f = H5Fopen(tmp.path("new.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        const hid_t a = H5Aopen(f, "schema_version", H5P_DEFAULT);
        const long long v = 99;
        H5Awrite(a, H5T_NATIVE_LLONG, &v);
        H5Aclose(a);
        H5Fclose(f);
    }
    try {
        readExperiment(tmp.path("new.h5"));
        FAIL();
    } catch (const FormatError& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("new.h5"), std::string::npos) << m;
        EXPECT_NE(m.find("schema 99"), std::string::npos) << m;
        EXPECT_NE(m.find("newer"), std::string::npos) << m;
    }
    {
        const hid_t f = H5Fcreate(tmp.path("weights.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        H5Fclose(f);
    }
    EXPECT_THROW(readExperiment(tmp.path("weights.h5")), FormatError);
    {
        std::FILE* f = std::fopen(tmp.path("text.h5").c_str(), "w");
        std::fputs("not hdf5", f);
        std::fclose(f);
    }
    EXPECT_THROW(readExperiment(tmp.path("text.h5")), FormatError);
    EXPECT_THROW(readExperiment(tmp.path("missing.h5")), IoError);
}

TEST(ExperimentStore, WriterKilledAtAnyMomentLeavesAReadableFile) {
    // A child saves ever longer experiments as fast as it can; SIGKILL lands mid-save.
    test::TempDir tmp;
    const std::string path = tmp.path("exp.h5");
    writeExperiment(path, sample(1));
    for (int round = 0; round < 5; ++round) {
        const pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            for (int n = 2;; ++n) writeExperiment(path, sample(n % 200 + 1));
        }
        usleep(static_cast<useconds_t>(20000 + 17000 * round));
        kill(child, SIGKILL);
        int status = 0;
        waitpid(child, &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status));
        const Experiment r = readExperiment(path);  // must not throw
        ASSERT_EQ(r.sweeps.size(), 2u);
        EXPECT_EQ(r.sweeps[0].points.size(), static_cast<std::size_t>(r.sweeps[0].plannedPoints));
    }
}

TEST(ExperimentStore, H5pyReadsWhatWeWrite) {
    // The documented Python reader (tools/read_experiment.py) on a file of ours: every number.
    test::TempDir tmp;
    const Experiment e = sample(3);
    writeExperiment(tmp.path("exp.h5"), e);
    const std::string cmd = "/usr/bin/python3 " MS_SOURCE_DIR "/tools/read_experiment.py " + tmp.path("exp.h5") + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string text;
    char buf[512];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
    ASSERT_EQ(::pclose(p), 0) << text;
    std::string expected = "schema 2, written by MergeScope " MS_VERSION "\n";
    const SweepRecord& s = e.sweeps[0];
    char line[256];
    for (const auto& pt : s.points) {
        std::snprintf(line, sizeof line, "sweep-001 lambda=%g proxy=%.6f downstream=%.6f\n", pt.params[0],
                      pt.proxyMean("task-alignment"), pt.downstreamMean());
        expected += line;
    }
    for (const auto& q : s.summaries()) {
        std::snprintf(line, sizeof line, "sweep-001 summary %s: spearman=%.6f kendall=%.6f regret=%.6f cost_ratio=%.3f\n",
                      q.proxy.c_str(), q.spearman, q.kendall, q.regret, q.costRatio);
        expected += line;
    }
    EXPECT_EQ(text, expected);
}

TEST(ExperimentStore, Schema1FilesStillRead) {
    // tests/fixtures/store/schema1.h5 was written by the schema-1 writer (make_schema1.cpp).
    const Experiment e = readExperiment(MS_SOURCE_DIR "/tests/fixtures/store/schema1.h5");
    EXPECT_EQ(e.schemaVersion, 1);
    EXPECT_EQ(e.kitManifest, "mergescope_kit: 2\nseed: 0\n");
    ASSERT_EQ(e.inputs.size(), 3u);
    EXPECT_EQ(e.inputs[1].hash, "11ee");
    ASSERT_EQ(e.sweeps.size(), 2u);
    const SweepRecord& s = e.sweeps[0];
    EXPECT_EQ(s.status, SweepStatus::Complete);
    EXPECT_EQ(s.shard, "");
    ASSERT_EQ(s.points.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        const PointRecord& p = s.points[static_cast<std::size_t>(i)];
        EXPECT_EQ(p.params, std::vector<double>{0.5 * i});
        EXPECT_EQ(p.proxy.at("task-alignment"), (std::vector<double>{0.5 + 0.125 * i, 0.25}));
        EXPECT_EQ(p.proxy.at("weight-space"), (std::vector<double>{0.75, 0.5 - 0.0625 * i}));
        EXPECT_EQ(p.hasDownstream(), i != 1);
        EXPECT_EQ(p.completedAt, "2026-11-23T10:01:0" + std::to_string(i) + "Z");
        EXPECT_DOUBLE_EQ(p.mergeSeconds, 0.01 * (i + 1));
    }
    EXPECT_EQ(s.points[0].normalized, (std::vector<double>{0.875, 0.9375}));
    EXPECT_EQ(s.points[2].artifacts.at("loss").values, (std::vector<double>{1.0, 0.5, 0.25}));
    EXPECT_EQ(e.sweeps[1].kind(), SweepKind::Relations);
    EXPECT_EQ(e.sweeps[1].status, SweepStatus::Cancelled);
    // Saved again, it is a schema-2 file with the same content.
    test::TempDir tmp;
    writeExperiment(tmp.path("v2.h5"), e);
    const Experiment r = readExperiment(tmp.path("v2.h5"));
    EXPECT_EQ(r.schemaVersion, kSchemaVersion);
    ASSERT_EQ(r.sweeps[0].points.size(), 3u);
    EXPECT_EQ(r.sweeps[0].points[2].artifacts.at("loss").values, s.points[2].artifacts.at("loss").values);
    EXPECT_EQ(r.sweeps[0].points[1].proxy, s.points[1].proxy);
}

Experiment running(int points) {
    Experiment e = sample(points);
    e.sweeps[0].status = SweepStatus::Running;
    e.sweeps[0].plannedPoints = 1000000;
    return e;
}

PointRecord nextPoint(int i) {
    PointRecord p = samplePoint(i);
    p.completedAt = "2026-11-23T11:00:00Z";
    return p;
}

TEST(ExperimentStore, AppendedPointsReadBackAndTheSaverRewritesOnlyWhenItMust) {
    test::TempDir tmp;
    const std::string path = tmp.path("exp.h5");
    Experiment e = running(2);
    ExperimentSaver saver(path);
    saver.save(e, e.sweeps[0], true);  // the sweep's first commit: a rewrite
    for (int i = 2; i < 6; ++i) {
        e.sweeps[0].points.push_back(nextPoint(i));
        saver.save(e, e.sweeps[0], true);
    }
    // A reader while the saver holds the file open for appending (SWMR read).
    Experiment r = readExperiment(path);
    ASSERT_EQ(r.sweeps[0].points.size(), 6u);
    EXPECT_EQ(r.sweeps[0].points[5].params, std::vector<double>{0.5});
    EXPECT_EQ(r.sweeps[0].points[5].proxy, e.sweeps[0].points[5].proxy);
    EXPECT_EQ(r.sweeps[0].points[5].normalized, e.sweeps[0].points[5].normalized);
    EXPECT_EQ(r.sweeps[0].points[5].delta, e.sweeps[0].points[5].delta);  // appended rows of downstream/delta
    EXPECT_EQ(r.sweeps[0].points[5].metrics.at("rmse")[1], e.sweeps[0].points[5].metrics.at("rmse")[1]);
    EXPECT_EQ(r.sweeps[0].points[5].completedAt, "2026-11-23T11:00:00Z");
    EXPECT_EQ(saver.rewrites(), 1);
    EXPECT_EQ(saver.appends(), 4);
    // A point without downstream appends as NaN and reads back without.
    PointRecord bare = nextPoint(6);
    bare.metric.clear();
    bare.normalized.clear();
    e.sweeps[0].points.push_back(bare);
    saver.save(e, e.sweeps[0], true);
    // A point with artifacts cannot be appended: the saver rewrites.
    PointRecord learned = nextPoint(7);
    learned.artifacts["loss"] = Artifact{{3.0, 2.0}, {2}, {}, {}};
    e.sweeps[0].points.push_back(learned);
    saver.save(e, e.sweeps[0], true);
    EXPECT_EQ(saver.rewrites(), 2);
    e.sweeps[0].status = SweepStatus::Complete;
    saver.save(e, e.sweeps[0], false);
    EXPECT_EQ(saver.rewrites(), 3);
    r = readExperiment(path);
    ASSERT_EQ(r.sweeps[0].points.size(), 8u);
    EXPECT_FALSE(r.sweeps[0].points[6].hasDownstream());
    EXPECT_EQ(r.sweeps[0].points[7].artifacts.at("loss").values, (std::vector<double>{3.0, 2.0}));
    EXPECT_EQ(r.sweeps[0].status, SweepStatus::Complete);
    // An appender refuses a point with artifacts and a sweep the file lacks.
    EXPECT_THROW(ExperimentAppender(path, "sweep-099"), OutputError);
}

TEST(ExperimentStore, AppenderKilledAtAnyMomentLeavesEveryCommittedPoint) {
    // A child appends points as fast as it can (not durable: kill -9 keeps what reached the
    // kernel) and reports each commit through a pipe; SIGKILL lands mid-append.
    test::TempDir tmp;
    const std::string path = tmp.path("exp.h5");
    writeExperiment(path, running(1));
    std::size_t before = 1;
    for (int round = 0; round < 6; ++round) {
        int fds[2];
        ASSERT_EQ(pipe(fds), 0);
        const pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            ::close(fds[0]);
            ExperimentAppender a(path, "sweep-001", false);
            for (int i = static_cast<int>(a.points());; ++i) {
                a.append(nextPoint(i));
                const std::uint64_t n = a.points();
                if (::write(fds[1], &n, sizeof n) != sizeof n) _exit(3);
            }
        }
        ::close(fds[1]);
        usleep(static_cast<useconds_t>(15000 + 13000 * round));
        kill(child, SIGKILL);
        int status = 0;
        waitpid(child, &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status));
        std::uint64_t n = 0, last = before;
        while (::read(fds[0], &n, sizeof n) == sizeof n) last = n;
        ::close(fds[0]);
        const Experiment r = readExperiment(path);  // must not throw, though the writer held it open
        const auto& pts = r.sweeps[0].points;
        // Every point the child saw committed is there (one more may have landed before the report).
        ASSERT_GE(pts.size(), last) << "round " << round;
        ASSERT_LE(pts.size(), last + 1) << "round " << round;
        EXPECT_GT(pts.size(), before) << "round " << round << ": the child appended nothing";
        for (std::size_t i = 1; i < pts.size(); ++i) {
            ASSERT_EQ(pts[i].params, std::vector<double>{0.1 * static_cast<double>(i)}) << i;
            ASSERT_EQ(pts[i].completedAt, "2026-11-23T11:00:00Z");
        }
        // The next writer goes on from there: rewrite (as a resumed sweep does), then append.
        Experiment again = r;
        writeExperiment(path, again);
        before = pts.size();
    }
}

}  // namespace
}  // namespace ms::core::store
