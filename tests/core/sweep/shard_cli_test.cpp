// Sharded sweeps end to end on the CLIP fixture kit: shards (one through Slurm's array variables)
// gathered equal the unsharded sweep value for value; a partial gather names the missing points
// and --resume fills them; parts of other sweeps or kits are refused; the Slurm job script is
// valid bash that runs the shards and a dependent gather.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/model/device.h"
#include "core/store/experiment_store.h"
#include "core/errors.h"
#include "tests/test_support.h"

namespace ms::test {
namespace {

std::vector<std::string> sweepArgs(const std::string& out, const std::string& grid = "lambda=0:1:5") {
    return {"sweep", "--kit", fixture("kits/clip_tiny/kit.yaml"), "--out", out, "--grid", grid, "--downstream", "frozen",
            "--no-feature-cache", "--probe-size", "8"};
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& more) {
    a.insert(a.end(), more.begin(), more.end());
    return a;
}

nlohmann::json points(const std::string& file) {
    const auto r = runCli({"report", file, "--json"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return nlohmann::json::parse(r.out)["sweeps"][0]["points"];
}

void expectSamePoints(const nlohmann::json& a, const nlohmann::json& b) {
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i]["point"], b[i]["point"]);
        EXPECT_EQ(a[i]["params"], b[i]["params"]);
        EXPECT_EQ(a[i]["proxy"], b[i]["proxy"]) << i;  // bit for bit: the same doubles print the same
        EXPECT_EQ(a[i]["downstream"], b[i]["downstream"]) << i;
    }
}

TEST(ShardedSweep, ShardsGatheredEqualTheUnshardedSweep) {
    TempDir dir;
    ASSERT_EQ(runCli(sweepArgs(dir.path("whole.h5"))).exitCode, 0);
    ASSERT_EQ(runCli(with(sweepArgs(dir.path("p1.h5")), {"--shard", "1/3"})).exitCode, 0);
    // Shard 2 from a Slurm array task's variables (array 0-2: task 1 is shard 2).
    setenv("SLURM_ARRAY_TASK_ID", "1", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "3", 1);
    setenv("SLURM_ARRAY_TASK_MIN", "0", 1);
    const auto s2 = runCli(sweepArgs(dir.path("p2.h5")));
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    unsetenv("SLURM_ARRAY_TASK_MIN");
    ASSERT_EQ(s2.exitCode, 0) << s2.err;
    EXPECT_NE(s2.err.find("shard 2/3"), std::string::npos) << s2.err;
    ASSERT_EQ(runCli(with(sweepArgs(dir.path("p3.h5")), {"--shard", "3/3"})).exitCode, 0);
    const auto p2 = core::store::readExperiment(dir.path("p2.h5"));
    EXPECT_EQ(p2.sweeps[0].shard, "2/3");
    EXPECT_EQ(p2.sweeps[0].points.size(), 2u);  // points 2 and 3 of 5: [⌊5/3⌋, ⌊10/3⌋)
    EXPECT_EQ(p2.sweeps[0].status, core::store::SweepStatus::Complete);
    const auto rep = runCli({"report", dir.path("p2.h5"), "--json"});
    EXPECT_EQ(nlohmann::json::parse(rep.out)["sweeps"][0]["shard"], "2/3") << rep.out.substr(0, 400);
    EXPECT_NE(runCli({"report", dir.path("p2.h5")}).out.find("shard 2/3  2/2 points"), std::string::npos);

    // Parts in any order; every point once, in plan order, equal to the unsharded run's.
    const auto g = runCli({"gather", dir.path("all.h5"), dir.path("p3.h5"), dir.path("p1.h5"), dir.path("p2.h5")});
    ASSERT_EQ(g.exitCode, 0) << g.err;
    EXPECT_NE(g.err.find("5 of 5 points"), std::string::npos) << g.err;
    expectSamePoints(points(dir.path("all.h5")), points(dir.path("whole.h5")));
    EXPECT_EQ(core::store::readExperiment(dir.path("all.h5")).sweeps[0].status, core::store::SweepStatus::Complete);
    // An existing output is not replaced without --force; a part is never the output.
    EXPECT_EQ(runCli({"gather", dir.path("all.h5"), dir.path("p1.h5")}).exitCode, 2);
    EXPECT_EQ(runCli({"gather", "--force", dir.path("p1.h5"), dir.path("p1.h5")}).exitCode, 2);

    // Two parts of three: the missing points are named, and --resume on the whole sweep fills them.
    const auto partial = runCli({"gather", dir.path("some.h5"), dir.path("p1.h5"), dir.path("p3.h5")});
    ASSERT_EQ(partial.exitCode, 0) << partial.err;
    EXPECT_NE(partial.err.find("missing 2 point(s): 2 3"), std::string::npos) << partial.err;
    EXPECT_NE(partial.err.find("--resume"), std::string::npos) << partial.err;
    const auto resumed = runCli(with(sweepArgs(dir.path("some.h5")), {"--resume"}));
    ASSERT_EQ(resumed.exitCode, 0) << resumed.err;
    const auto filled = core::store::readExperiment(dir.path("some.h5"));
    ASSERT_EQ(filled.sweeps.size(), 1u) << "resume continued the gathered sweep";
    EXPECT_EQ(filled.sweeps[0].points.size(), 5u);
}

TEST(ShardedSweep, GatherRefusesPartsOfOtherSweepsOrKits) {
    TempDir dir;
    ASSERT_EQ(runCli(with(sweepArgs(dir.path("a1.h5")), {"--shard", "1/2"})).exitCode, 0);
    ASSERT_EQ(runCli(with(sweepArgs(dir.path("b2.h5"), "lambda=0:1:4"), {"--shard", "2/2"})).exitCode, 0);
    auto r = runCli({"gather", dir.path("out.h5"), dir.path("a1.h5"), dir.path("b2.h5")});
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.err.find("different sweeps"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("b2.h5"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.path("out.h5")));
    // The same sweep on another kit (an expert's hash differs).
    auto other = core::store::readExperiment(dir.path("a1.h5"));
    other.inputs[1].hash = "0123456789abcdef0123456789abcdef";
    other.sweeps[0].shard = "2/2";
    other.sweeps[0].points.clear();
    core::store::writeExperiment(dir.path("k2.h5"), other);
    r = runCli({"gather", dir.path("out.h5"), dir.path("a1.h5"), dir.path("k2.h5")});
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.err.find("different kits"), std::string::npos) << r.err;
    // Shards of different counts, and shard arguments that name no shard.
    ASSERT_EQ(runCli(with(sweepArgs(dir.path("c2.h5")), {"--shard", "2/3"})).exitCode, 0);
    r = runCli({"gather", dir.path("out.h5"), dir.path("a1.h5"), dir.path("c2.h5")});
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.err.find("shard of 3"), std::string::npos) << r.err;
    EXPECT_EQ(runCli(with(sweepArgs(dir.path("x.h5")), {"--shard", "4/3"})).exitCode, 2);
    r = runCli(with(sweepArgs(dir.path("x.h5")), {"--shard", "1/6"}));
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.err.find("has 5 points"), std::string::npos) << r.err;
}

TEST(ShardedSweep, SlurmScriptRunsTheShardsAndAGatherAfterThem) {
    TempDir dir;
    const std::string job = dir.path("sweep.sbatch");
    const auto r = runCli(with(sweepArgs(dir.path("exp.h5")),
                               {"--slurm", job, "--shards", "3", "--partition", "gpu", "--time", "1:00:00", "--gpus-per-task", "1"}));
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_NE(r.out.find("bash " + job), std::string::npos) << r.out;
    std::ifstream in(job);
    const std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const char* want : {"#SBATCH --array=1-3", "#SBATCH --partition=gpu", "#SBATCH --time=1:00:00", "#SBATCH --gpus-per-task=1",
                             "--dependency=afterok:", " gather ", "--shard \"${SLURM_ARRAY_TASK_ID}/3\"", "exp.shards/shard-",
                             "'lambda=0:1:5'", "--resume"})
        EXPECT_NE(s.find(want), std::string::npos) << want << "\n" << s;
    EXPECT_EQ(s.find("--slurm"), std::string::npos) << s;
    EXPECT_TRUE(std::filesystem::is_directory(dir.path("exp.shards")));
    EXPECT_EQ(std::system(("bash -n " + job).c_str()), 0);
    // Run as a Slurm array task would be (no Slurm needed): shard 2 of 3 lands in the parts folder.
    const std::string cmd = "cd " + dir.dir().string() + " && SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=3 bash " + job + " >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    const auto part = core::store::readExperiment(dir.path("exp.shards/shard-2.h5"));
    EXPECT_EQ(part.sweeps[0].shard, "2/3");
    // Problems are named before anything is submitted: more shards than points, an existing output.
    EXPECT_EQ(runCli(with(sweepArgs(dir.path("new.h5")), {"--slurm", dir.path("j2.sbatch"), "--shards", "6"})).exitCode, 2);
    std::ofstream(dir.path("taken.h5")) << "x";
    EXPECT_EQ(runCli(with(sweepArgs(dir.path("taken.h5")), {"--slurm", dir.path("j3.sbatch"), "--shards", "2"})).exitCode, 2);
    EXPECT_FALSE(std::filesystem::exists(dir.path("j2.sbatch")));
}

TEST(Devices, CudaWithoutCudaIsRefusedSayingWhatWasFound) {
    TempDir dir;
    for (const auto& args : {with(sweepArgs(dir.path("a.h5")), {"--device", "cuda"}),
                             std::vector<std::string>{"kit", "check", fixture("kits/clip_tiny/kit.yaml"), "--device", "cuda:1"},
                             std::vector<std::string>{"merge", "--kit", fixture("kits/clip_tiny/kit.yaml"), "--method", "task_arithmetic",
                                                      "--device", "cuda", "--out", dir.path("m.safetensors")}}) {
        const auto r = runCli(args);
        EXPECT_EQ(r.exitCode, 2) << args[0] << ": " << r.err;
        EXPECT_NE(r.err.find("LibTorch"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("--device cpu"), std::string::npos) << r.err;
    }
    EXPECT_FALSE(std::filesystem::exists(dir.path("a.h5")));
    EXPECT_FALSE(std::filesystem::exists(dir.path("m.safetensors")));
    EXPECT_EQ(runCli(with(sweepArgs(dir.path("b.h5")), {"--device", "tpu"})).exitCode, 2);
    const auto cpu = runCli(with(sweepArgs(dir.path("c.h5"), "lambda=0.5"), {"--device", "cpu"}));
    EXPECT_EQ(cpu.exitCode, 0) << cpu.err;
    EXPECT_EQ(core::model::resolveDevice("auto").name, "cpu");
    EXPECT_THROW(core::model::resolveDevice("cuda:x"), core::InvalidArgument);
}

}  // namespace
}  // namespace ms::test
