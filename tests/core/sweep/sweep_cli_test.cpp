// mergescope-cli sweep / relations / report on the reduced kit, including a sweep killed with
// SIGKILL mid-way: the file still opens, and --resume completes it without redoing points.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <cmath>
#include <iterator>
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/errors.h"
#include "core/store/experiment_store.h"
#include "tests/core/eval/reduced_kit.h"
#include "tests/test_support.h"

namespace ms::test {
namespace {

std::vector<std::string> sweepArgs(const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a = {"sweep", "--kit", reducedKit().dir, "--out", out, "--probe-size", "32", "--realign-samples",
                                  "200", "--eval-limit", "200", "--no-feature-cache"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

// bf16 forwards rank a 16-point sweep as fp32 ones do (issue 22's criterion: Kendall τ ≥ 0.95);
// the regret of the bf16 pick under fp32's scores is printed for docs/perf.md.
TEST(SweepCli, Bf16ProxyRanksSixteenPointsAsFp32Does) {
    TempDir tmp;
    std::map<std::string, std::map<double, double>> proxy;
    for (const std::string p : {"fp32", "bf16"}) {
        const auto r = runCli({"sweep", "--kit", reducedKit().dir, "--out", tmp.path(p + ".h5"), "--probe-size", "16", "--no-feature-cache",
                               "--grid", "lambda=0:1.5:16", "--precision", p});
        ASSERT_EQ(r.exitCode, 0) << r.err;
        const auto j = nlohmann::json::parse(runCli({"report", tmp.path(p + ".h5"), "--json"}).out);
        for (const auto& point : j["sweeps"][0]["points"]) proxy[p][point["params"]["lambda"].get<double>()] = point["proxy"]["mean"].get<double>();
    }
    const auto& a = proxy["fp32"];
    const auto& b = proxy["bf16"];
    ASSERT_EQ(a.size(), 16u);
    ASSERT_EQ(b.size(), 16u);
    int concordant = 0, discordant = 0;
    for (auto i = a.begin(); i != a.end(); ++i)
        for (auto j = std::next(i); j != a.end(); ++j) {
            const double s = (i->second - j->second) * (b.at(i->first) - b.at(j->first));
            concordant += s > 0;
            discordant += s < 0;
        }
    const double tau = static_cast<double>(concordant - discordant) / std::max(1, concordant + discordant);
    const auto best = [](const std::map<double, double>& m) {
        return std::max_element(m.begin(), m.end(), [](const auto& x, const auto& y) { return x.second < y.second; })->first;
    };
    const double regret = a.at(best(a)) - a.at(best(b));
    std::printf("bf16 vs fp32 over 16 points: Kendall tau %.3f, regret of the bf16 pick under fp32 %.5f\n", tau, regret);
    EXPECT_GE(tau, 0.95);
    EXPECT_GE(regret, 0.0);
    EXPECT_NE(a, b) << "bf16 forwards ran (the scores differ in their last digits)";
    EXPECT_EQ(runCli({"sweep", "--kit", reducedKit().dir, "--out", tmp.path("x.h5"), "--precision", "fp16", "--grid", "lambda=1"}).exitCode, 2);
    // A kit's `precision: bf16` is taken when the command line says nothing.
    const std::string kitText = [] {
        std::ifstream in(reducedKit().dir + "/kit.yaml");
        return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    const std::string bf16Kit = reducedKit().dir + "/kit-bf16-" + std::to_string(::getpid()) + ".yaml";
    std::ofstream(bf16Kit) << kitText << "precision: bf16\n";
    const auto k = runCli({"sweep", "--kit", bf16Kit, "--out", tmp.path("kit.h5"), "--probe-size", "16", "--no-feature-cache", "--grid",
                           "lambda=0.1,0.2"});
    std::filesystem::remove(bf16Kit);
    ASSERT_EQ(k.exitCode, 0) << k.err;
    const auto kj = nlohmann::json::parse(runCli({"report", tmp.path("kit.h5"), "--json"}).out);
    for (const auto& point : kj["sweeps"][0]["points"]) {
        const double lambda = point["params"]["lambda"].get<double>();
        const auto near = [&](const std::map<double, double>& m) {
            for (const auto& [l, v] : m)
                if (std::abs(l - lambda) < 1e-9) return v;
            return std::nan("");
        };
        EXPECT_DOUBLE_EQ(point["proxy"]["mean"].get<double>(), near(b)) << lambda;
        EXPECT_NE(point["proxy"]["mean"].get<double>(), near(a)) << lambda;
    }
}

TEST(SweepCli, SweepThenReportAsTextJsonAndCsv) {
    TempDir tmp;
    const std::string exp = tmp.path("exp.h5");
    const auto r = runCli(sweepArgs(exp, {"--grid", "lambda=0:1:3", "--downstream", "frozen", "--proxy", "task-alignment",
                                          "--proxy", "mean-cka"}));
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_NE(r.out.find("Kendall"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("[3/3]"), std::string::npos) << r.err;

    const auto json = runCli({"report", exp, "--json"});
    ASSERT_EQ(json.exitCode, 0) << json.err;
    const auto j = nlohmann::json::parse(json.out);
    ASSERT_EQ(j.at("sweeps").size(), 1u);
    const auto& s = j["sweeps"][0];
    EXPECT_EQ(s.at("method"), "task_arithmetic");
    ASSERT_EQ(s.at("points").size(), 3u);
    const auto& p = s["points"][1];
    EXPECT_DOUBLE_EQ(p.at("params").at("lambda").get<double>(), 0.5);
    EXPECT_TRUE(p.at("proxy").contains("mean"));
    EXPECT_EQ(p.at("proxy").at("per_task").size(), 5u);
    EXPECT_TRUE(p.at("downstream").contains("mean"));
    EXPECT_TRUE(p.at("proxies").contains("mean-cka"));
    for (const char* k : {"merge", "proxy", "downstream"}) EXPECT_TRUE(p.at("seconds").contains(k)) << k;
    for (const char* k : {"spearman", "kendall", "regret", "cost_ratio"}) EXPECT_TRUE(s.at("summary").contains(k)) << k;
    EXPECT_EQ(s["summary"]["downstream"], "delta-mtl");
    // Every metric of every task, and LibMTL's ΔMTL (appended point by point, read back): with
    // one metric, Δ_t is normalized − 1 (accuracy); segmentation averages miou's and pixel
    // accuracy's, depth its four, normals its five (their numbers: tests/core/eval).
    const auto& d = p.at("downstream");
    ASSERT_TRUE(d.contains("delta")) << d.dump();
    EXPECT_EQ(d["metrics"]["fashion-seg"].size(), 2u) << d.dump();
    EXPECT_TRUE(d["metrics"]["fashion-seg"].contains("pixel_accuracy")) << d.dump();
    EXPECT_EQ(d["metrics"]["fashion-class"].size(), 1u) << d.dump();
    EXPECT_DOUBLE_EQ(d["metrics"]["fashion-seg"]["miou"].get<double>(), d["metric"]["fashion-seg"].get<double>());
    EXPECT_NEAR(d["delta"]["fashion-class"].get<double>(), d["per_task"]["fashion-class"].get<double>() - 1, 1e-12);
    EXPECT_EQ(d["metrics"]["fashion-depth"].size(), 4u) << d.dump();
    EXPECT_EQ(d["metrics"]["fashion-normals"].size(), 5u) << d.dump();
    EXPECT_DOUBLE_EQ(d["metrics"]["fashion-normals"]["mean_angle"].get<double>(), d["metric"]["fashion-normals"].get<double>());
    double mean = 0;
    for (const char* t : {"fashion-class", "fashion-seg", "fashion-depth", "fashion-normals", "digits-class"}) mean += d["delta"][t].get<double>() / 5;
    EXPECT_NEAR(d["delta_mtl"].get<double>(), mean, 1e-12);
    const auto byMean = nlohmann::json::parse(runCli({"report", exp, "--json", "--judge-against", "mean"}).out);
    EXPECT_EQ(byMean["sweeps"][0]["summary"]["downstream"], "mean");
    EXPECT_EQ(runCli({"report", exp, "--judge-against", "median"}).exitCode, 2);

    const auto csv = runCli({"report", exp, "--csv"});
    ASSERT_EQ(csv.exitCode, 0);
    EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 4);  // header + 3 points
    EXPECT_EQ(csv.out.rfind("sweep,kind,method,point,lambda,proxy:task-alignment:mean", 0), 0u) << csv.out;
    EXPECT_NE(csv.out.find(",delta_mtl,delta:fashion-class,"), std::string::npos) << csv.out.substr(0, 600);
    EXPECT_NE(csv.out.find(",metric:fashion-seg:pixel_accuracy,"), std::string::npos) << csv.out.substr(0, 600);

    // A proxy-only sweep has no downstream fields; relations report the T×T picture.
    ASSERT_EQ(runCli(sweepArgs(exp, {"--grid", "lambda=0.5,1"})).exitCode, 0);
    const auto rel = runCli({"relations", "--kit", reducedKit().dir, "--out", exp, "--grid", "lambda=0:1:2", "--eval-limit", "200",
                             "--probe-size", "32", "--no-feature-cache"});
    ASSERT_EQ(rel.exitCode, 0) << rel.err;
    EXPECT_NE(rel.out.find("adding τ[digits-class]"), std::string::npos) << rel.out;
    const auto j2 = nlohmann::json::parse(runCli({"report", exp, "--json"}).out);
    ASSERT_EQ(j2.at("sweeps").size(), 3u);
    EXPECT_FALSE(j2["sweeps"][1]["points"][0].contains("downstream"));
    EXPECT_FALSE(j2["sweeps"][1].contains("summary"));
    EXPECT_EQ(j2["sweeps"][2]["points"][0]["params"]["task"], "fashion-class");
    EXPECT_EQ(runCli({"report", exp}).exitCode, 0);
}

// Two sweeps started together into one file: one writes, the other is refused at once (exit 2)
// naming the writer; every point the writer reported as saved is in the file. Before the lock,
// both exited 0 and the file kept only one of the sweeps.
TEST(SweepCli, TwoWritersOfOneExperimentFileOneIsRefusedNamingTheOther) {
    TempDir tmp;
    const std::string exp = tmp.path("exp.h5");
    const auto args = sweepArgs(exp, {"--grid", "lambda=0:1:4"});
    const pid_t a = startCli(args, tmp.path("a.out"), tmp.path("a.err"));
    const pid_t b = startCli(args, tmp.path("b.out"), tmp.path("b.err"));
    ASSERT_GT(a, 0);
    ASSERT_GT(b, 0);
    int sa = 0, sb = 0;
    waitpid(a, &sa, 0);
    waitpid(b, &sb, 0);
    const auto slurp = [](const std::string& path) {
        std::ifstream in(path);
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    ASSERT_TRUE(WIFEXITED(sa) && WIFEXITED(sb));
    if (WEXITSTATUS(sa) == 0 && WEXITSTATUS(sb) == 0) {  // one started after the other had finished: both kept
        EXPECT_EQ(core::store::readExperiment(exp).sweeps.size(), 2u);
        GTEST_SKIP() << "the two sweeps did not overlap on this machine";
    }
    const bool aWon = WEXITSTATUS(sa) == 0;
    const pid_t winner = aWon ? a : b;
    const int loserCode = WEXITSTATUS(aWon ? sb : sa);
    const std::string loserErr = slurp(tmp.path(aWon ? "b.err" : "a.err"));
    const std::string winnerErr = slurp(tmp.path(aWon ? "a.err" : "b.err"));
    EXPECT_EQ(loserCode, 2) << loserErr;
    EXPECT_NE(loserErr.find(exp + " is being written by pid " + std::to_string(winner) + " on host "), std::string::npos) << loserErr;
    EXPECT_NE(loserErr.find("mergescope-cli sweep"), std::string::npos) << loserErr;
    // Every point the winner reported ("[k/4] ...") is in the file, and nothing else.
    const auto e = core::store::readExperiment(exp);
    ASSERT_EQ(e.sweeps.size(), 1u);
    for (int k = 1; k <= 4; ++k) EXPECT_NE(winnerErr.find("[" + std::to_string(k) + "/4]"), std::string::npos) << winnerErr;
    EXPECT_EQ(e.sweeps[0].points.size(), 4u);
    EXPECT_EQ(e.sweeps[0].status, core::store::SweepStatus::Complete);
    EXPECT_FALSE(std::filesystem::exists(exp + ".lock"));
    // The file is free again: a second sweep adds itself beside the first.
    ASSERT_EQ(runCli(sweepArgs(exp, {"--grid", "lambda=0.5,1"})).exitCode, 0);
    EXPECT_EQ(core::store::readExperiment(exp).sweeps.size(), 2u);

    // With --wait, whichever comes second waits for the first and then adds its sweep: nothing is lost.
    const pid_t c = startCli(sweepArgs(exp, {"--grid", "lambda=0:1:4", "--wait", "120"}), tmp.path("c.out"), tmp.path("c.err"));
    const pid_t d = startCli(sweepArgs(exp, {"--grid", "lambda=0:1:3", "--wait", "120"}), tmp.path("d.out"), tmp.path("d.err"));
    int sc = 0, sd = 0;
    waitpid(c, &sc, 0);
    waitpid(d, &sd, 0);
    EXPECT_TRUE(WIFEXITED(sc) && WEXITSTATUS(sc) == 0) << slurp(tmp.path("c.err"));
    EXPECT_TRUE(WIFEXITED(sd) && WEXITSTATUS(sd) == 0) << slurp(tmp.path("d.err"));
    const auto all = core::store::readExperiment(exp);
    ASSERT_EQ(all.sweeps.size(), 4u);
    std::size_t points = 0;
    for (std::size_t i = 2; i < 4; ++i) points += all.sweeps[i].points.size();
    EXPECT_EQ(points, 7u);  // 4 + 3
}

TEST(SweepCli, BadInputIsRefusedWithExitTwo) {
    TempDir tmp;
    const auto bad = runCli(sweepArgs(tmp.path("e.h5"), {"--grid", "lambda=0:1"}));
    EXPECT_EQ(bad.exitCode, 2);
    EXPECT_NE(bad.err.find("START:STOP:COUNT"), std::string::npos) << bad.err;
    const auto param = runCli(sweepArgs(tmp.path("e.h5"), {"--grid", "densty=0.1,0.2"}));
    EXPECT_EQ(param.exitCode, 2);
    EXPECT_NE(param.err.find("densty"), std::string::npos) << param.err;
    const auto proxy = runCli(sweepArgs(tmp.path("e.h5"), {"--proxy", "tokens-l2"}));
    EXPECT_EQ(proxy.exitCode, 2);
    EXPECT_FALSE(std::filesystem::exists(tmp.path("e.h5")));
    const auto nothing = runCli(sweepArgs(tmp.path("e.h5"), {"--no-proxy"}));
    EXPECT_EQ(nothing.exitCode, 2);
    EXPECT_NE(nothing.err.find("nothing to score"), std::string::npos) << nothing.err;
    const auto report = runCli({"report", tmp.path("missing.h5")});
    EXPECT_NE(report.exitCode, 0);
}

TEST(SweepCli, KilledSweepKeepsItsPointsAndResumeCompletesIt) {
    TempDir tmp;
    const std::string exp = tmp.path("exp.h5");
    const std::vector<std::string> args = sweepArgs(exp, {"--grid", "lambda=0:1.5:40", "--downstream", "frozen"});
    const pid_t pid = startCli(args, "/dev/null", "/dev/null");
    ASSERT_GT(pid, 0);
    // Wait for a few points to land, then kill -9 in the middle of the next one.
    std::size_t seen = 0;
    for (int i = 0; i < 600 && seen < 3; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        try {
            const auto e = core::store::readExperiment(exp);
            if (!e.sweeps.empty()) seen = e.sweeps[0].points.size();
        } catch (const core::Error&) {
            // not written yet
        }
    }
    ASSERT_GE(seen, 3u);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    const core::store::Experiment killed = core::store::readExperiment(exp);
    ASSERT_EQ(killed.sweeps.size(), 1u);
    const std::size_t kept = killed.sweeps[0].points.size();
    EXPECT_GE(kept, 3u);
    EXPECT_LT(kept, 40u);
    EXPECT_EQ(killed.sweeps[0].status, core::store::SweepStatus::Running);

    std::vector<std::string> resume = args;
    resume.push_back("--resume");
    const auto r = runCli(resume);
    ASSERT_EQ(r.exitCode, 0) << r.err;
    // Only the missing points were computed: one "[k/40] ..." line each.
    std::size_t pointLines = 0;
    for (std::size_t at = 0; at < r.err.size(); at = r.err.find('\n', at) + 1) {
        if (r.err[at] == '[') ++pointLines;
        if (r.err.find('\n', at) == std::string::npos) break;
    }
    EXPECT_EQ(pointLines, 40 - kept) << r.err;
    const core::store::Experiment done = core::store::readExperiment(exp);
    ASSERT_EQ(done.sweeps.size(), 1u);
    EXPECT_EQ(done.sweeps[0].status, core::store::SweepStatus::Complete);
    ASSERT_EQ(done.sweeps[0].points.size(), 40u);
    std::set<double> lambdas;
    for (const auto& p : done.sweeps[0].points) lambdas.insert(p.params[0]);
    EXPECT_EQ(lambdas.size(), 40u);  // no point twice
    for (std::size_t i = 0; i < kept; ++i)
        EXPECT_EQ(done.sweeps[0].points[i].completedAt, killed.sweeps[0].points[i].completedAt);
}

}  // namespace
}  // namespace ms::test
