// mergescope-cli merge / methods / analyze as a user runs them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/io/source_factory.h"
#include "tests/test_support.h"

namespace ms {
namespace {

using test::runCli;

std::vector<std::string> inputs() {
    return {"--base", test::fixture("merge/base.safetensors"), "--model", test::fixture("merge/expert_0.safetensors"),
            "--model", test::fixture("merge/expert_1.safetensors"), "--model", test::fixture("merge/expert_2.safetensors")};
}

TEST(MergeCli, FlagsMergeMatchesTheReferenceAndSavesARecipeThatReproducesIt) {
    test::TempDir tmp;
    auto args = inputs();
    args.insert(args.begin(), "merge");
    for (const char* a : {"--method", "ties", "--set", "density=0.2", "--set", "lambda=1.0"}) args.push_back(a);
    args.push_back("--out");
    args.push_back(tmp.path("a.safetensors"));
    args.push_back("--save-recipe");
    args.push_back(tmp.path("r.yaml"));
    const auto r = runCli(args);
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const auto again = runCli({"merge", "--recipe", tmp.path("r.yaml"), "--out", tmp.path("b.safetensors")});
    ASSERT_EQ(again.exitCode, 0) << again.err;
    const auto a = core::io::openCheckpoint(tmp.path("a.safetensors"));
    const auto b = core::io::openCheckpoint(tmp.path("b.safetensors"));
    const auto expected = core::io::openCheckpoint(test::fixture("merge/expected_ties_global.safetensors"));
    for (const auto& t : expected->tensors()) {
        EXPECT_EQ(a->loadFloat32(t.name), b->loadFloat32(t.name)) << t.name;
        const auto want = expected->loadFloat32(t.name);
        const auto got = a->loadFloat32(t.name);
        for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 2e-6) << t.name;
    }
}

// LiNeS (lines:α,β): task arithmetic with block ℓ of B at α + β·ℓ/(B − 1) and every tensor
// outside the blocks at α, computed here from the inputs (the fixture has blocks 0 and 1).
TEST(MergeCli, LinesScheduleScalesTaskVectorsByDepth) {
    test::TempDir tmp;
    auto args = inputs();
    args.insert(args.begin(), "merge");
    for (const char* a : {"--method", "task_arithmetic", "--lambda-blocks", "lines:0.2,0.6", "--out"}) args.push_back(a);
    args.push_back(tmp.path("lines.safetensors"));
    const auto r = runCli(args);
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const auto merged = core::io::openCheckpoint(tmp.path("lines.safetensors"));
    const auto base = core::io::openCheckpoint(test::fixture("merge/base.safetensors"));
    std::vector<std::unique_ptr<core::io::TensorSource>> experts;
    for (int t = 0; t < 3; ++t) experts.push_back(core::io::openCheckpoint(test::fixture("merge/expert_" + std::to_string(t) + ".safetensors")));
    for (const auto& [name, lambda] : std::vector<std::pair<std::string, float>>{
             {"blocks.0.attn.qkv.weight", 0.2f}, {"blocks.1.mlp.fc1.weight", 0.8f}, {"norm.weight", 0.2f}, {"pos_embed", 0.2f}}) {
        const auto b = base->loadFloat32(name), got = merged->loadFloat32(name);
        std::vector<float> sum(b.size(), 0.0f);
        for (const auto& e : experts) {
            const auto v = e->loadFloat32(name);
            for (std::size_t i = 0; i < b.size(); ++i) sum[i] += v[i] - b[i];
        }
        for (std::size_t i = 0; i < b.size(); ++i) ASSERT_NEAR(got[i], b[i] + lambda * sum[i], 1e-6) << name << "[" << i << "]";
    }
    auto both = args;
    both.back() = tmp.path("x.safetensors");
    both.push_back("--set");
    both.push_back("lambda=0.5");
    const auto clash = runCli(both);
    EXPECT_EQ(clash.exitCode, 2);
    EXPECT_NE(clash.err.find("drop --set lambda=0.5"), std::string::npos) << clash.err;
    auto bad = args;
    bad.back() = tmp.path("y.safetensors");
    *std::find(bad.begin(), bad.end(), "lines:0.2,0.6") = "lines:0.2";
    const auto one = runCli(bad);
    EXPECT_EQ(one.exitCode, 2);
    EXPECT_NE(one.err.find("lines:ALPHA,BETA"), std::string::npos) << one.err;
}

TEST(MergeCli, PerTaskMethodsWriteOneFilePerTask) {
    test::TempDir tmp;
    auto args = inputs();
    args.insert(args.begin(), "merge");
    for (const char* a : {"--method", "emr", "--task-name", "cls", "--task-name", "seg", "--task-name", "depth"})
        args.push_back(a);
    args.push_back("--out");
    args.push_back(tmp.path("emr.safetensors"));
    const auto r = runCli(args);
    ASSERT_EQ(r.exitCode, 0) << r.err;
    for (const char* t : {"cls", "seg", "depth"})
        EXPECT_TRUE(std::filesystem::exists(tmp.path(std::string("emr-") + t + ".safetensors"))) << t;
}

TEST(MergeCli, BadInputsExitTwoWithAMessage) {
    test::TempDir tmp;
    auto args = inputs();
    args.insert(args.begin(), "merge");
    for (const char* a : {"--method", "ties", "--set", "dense=0.2", "--out"}) args.push_back(a);
    args.push_back(tmp.path("x.safetensors"));
    const auto r = runCli(args);
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.err.find("no parameter 'dense'"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(tmp.path("x.safetensors")));
    const auto mismatch = runCli({"merge", "--base", test::fixture("merge/base.safetensors"), "--model",
                                  test::fixture("io/all_dtypes.safetensors"), "--method", "task_arithmetic", "--out",
                                  tmp.path("y.safetensors")});
    EXPECT_EQ(mismatch.exitCode, 2);
    EXPECT_NE(mismatch.err.find("blocks.0.attn.qkv.weight: missing"), std::string::npos) << mismatch.err;
    EXPECT_EQ(runCli({"merge", "--out", tmp.path("z.safetensors")}).exitCode, 2);
}

std::string bytesOf(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<std::string> filesIn(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

// Issue 11: an output that is one of the inputs — by name, through another spelling or a link —
// is refused before anything is read; the input is left as it was and nothing is written.
TEST(MergeCli, OutputThatIsAnInputIsRefusedAndTheInputKept) {
    test::TempDir tmp;
    namespace fs = std::filesystem;
    for (const char* f : {"base", "expert_0", "expert_1"})
        fs::copy_file(test::fixture(std::string("merge/") + f + ".safetensors"), tmp.path(std::string(f) + ".safetensors"));
    fs::create_symlink(tmp.path("base.safetensors"), tmp.path("link.safetensors"));
    const std::string before = bytesOf(tmp.path("base.safetensors"));
    const auto listing = filesIn(tmp.dir());
    for (const std::string& out : {tmp.path("base.safetensors"), tmp.path("link.safetensors"),
                                   (tmp.dir() / "." / "expert_1.safetensors").string()}) {
        SCOPED_TRACE(out);
        const auto r = runCli({"merge", "--base", tmp.path("base.safetensors"), "--model", tmp.path("expert_0.safetensors"), "--model",
                               tmp.path("expert_1.safetensors"), "--method", "task_arithmetic", "--out", out});
        EXPECT_EQ(r.exitCode, 2) << r.err;
        EXPECT_NE(r.err.find("is the input"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(out), std::string::npos) << r.err;
        EXPECT_EQ(bytesOf(tmp.path("base.safetensors")), before);
        EXPECT_EQ(filesIn(tmp.dir()), listing);  // no output, no temporary file
    }
    const auto convert = runCli({"convert", tmp.path("base.safetensors"), tmp.path("link.safetensors")});
    EXPECT_EQ(convert.exitCode, 2) << convert.err;
    EXPECT_EQ(bytesOf(tmp.path("base.safetensors")), before);
}

TEST(MergeCli, UsersPathsAndValuesExitTwoNamingThem) {
    test::TempDir tmp;
    auto run = [&](std::vector<std::string> extra) {
        auto args = inputs();
        args.insert(args.begin(), "merge");
        for (auto& e : extra) args.push_back(std::move(e));
        return runCli(args);
    };
    const auto noFolder = run({"--method", "ties", "--out", tmp.path("missing/merged.safetensors")});
    EXPECT_EQ(noFolder.exitCode, 2) << noFolder.err;
    EXPECT_NE(noFolder.err.find(tmp.path("missing")), std::string::npos) << noFolder.err;
    EXPECT_NE(noFolder.err.find("does not exist"), std::string::npos) << noFolder.err;
    const auto folder = run({"--method", "ties", "--out", tmp.path("")});
    EXPECT_EQ(folder.exitCode, 2) << folder.err;
    const auto override = run({"--method", "ties", "--lambda-override", "blocks=big", "--out", tmp.path("m.safetensors")});
    EXPECT_EQ(override.exitCode, 2) << override.err;
    EXPECT_NE(override.err.find("'big' is not a number"), std::string::npos) << override.err;
    const auto choice = run({"--method", "ties", "--set", "topk_scope=everywhere", "--out", tmp.path("m.safetensors")});
    EXPECT_EQ(choice.exitCode, 2) << choice.err;
    EXPECT_NE(choice.err.find("topk_scope"), std::string::npos) << choice.err;
    const auto learned = run({"--method", "calm", "--out", tmp.path("m.safetensors")});
    EXPECT_EQ(learned.exitCode, 2) << learned.err;
    EXPECT_NE(learned.err.find("--kit"), std::string::npos) << learned.err;
    EXPECT_TRUE(filesIn(tmp.dir()).empty());
}

// Every merged file says how it was made: one provenance schema (docs/merging.md).
TEST(MergeCli, ProvenanceCarriesTheSpecRecipeAndInputHashes) {
    test::TempDir tmp;
    auto args = inputs();
    args.insert(args.begin(), "merge");
    for (const char* a : {"--method", "ties", "--set", "topk_scope=per_tensor", "--set", "lambda=0.30000000000000004", "--out"}) args.push_back(a);
    args.push_back(tmp.path("m.safetensors"));
    const auto r = runCli(args);
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const auto m = core::io::openCheckpoint(tmp.path("m.safetensors"))->metadata();
    EXPECT_EQ(m.at("mergescope.provenance"), "1");
    const auto spec = nlohmann::json::parse(m.at("mergescope.spec"));
    EXPECT_EQ(spec["method"], "ties");
    EXPECT_EQ(spec["params"]["topk_scope"], "per_tensor");
    EXPECT_EQ(spec["params"]["lambda"].get<double>(), 0.30000000000000004);  // exactly, not 0.3
    const auto hashes = nlohmann::json::parse(runCli({"inspect", "--json", "--hash", test::fixture("merge/base.safetensors")}).out);
    EXPECT_EQ(spec["base"]["xxh128"], hashes["files"][0]["hash"]);
    EXPECT_EQ(spec["models"].size(), 3u);
    EXPECT_NE(m.at("mergescope.recipe").find("lambda: 0.30000000000000004"), std::string::npos) << m.at("mergescope.recipe");
    EXPECT_EQ(nlohmann::json::parse(m.at("mergescope.inputs")).size(), 4u);
}

TEST(MergeCli, ProgressLinesWhenStderrIsNoTerminal) {
    ::setenv("MERGESCOPE_PROGRESS_SECONDS", "0", 1);
    const auto r = runCli({"inspect", "--hash", test::fixture("merge/base.safetensors")});
    ::unsetenv("MERGESCOPE_PROGRESS_SECONDS");
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_NE(r.err.find("%\n"), std::string::npos) << r.err;  // plain lines, no bar redrawn with \r
    EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
}

TEST(MergeCli, MethodsJsonListsEveryMethodWithParameters) {
    const auto r = runCli({"methods", "--json"});
    ASSERT_EQ(r.exitCode, 0);
    const auto j = nlohmann::json::parse(r.out);
    std::vector<std::string> names;
    for (const auto& m : j.at("methods")) names.push_back(m.at("name"));
    for (const char* want : {"average", "task_arithmetic", "ties", "dare_linear", "dare_ties", "magnitude", "breadcrumbs",
                             "tall_masks", "consensus", "emr", "slerp", "model_stock"})
        EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
    for (const auto& m : j["methods"])
        if (m["name"] == "ties")
            for (const auto& p : m["parameters"])
                if (p["name"] == "density") {
                    EXPECT_EQ(p["default"], 0.2);
                    EXPECT_TRUE(p["affects_prepare"].get<bool>());
                }
}

TEST(MergeCli, AnalyzeJsonReportsCosinesAndConflicts) {
    auto args = inputs();
    args.insert(args.begin(), "analyze");
    args.push_back("--json");
    const auto r = runCli(args);
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("tasks").size(), 3u);
    EXPECT_EQ(j.at("all").at("cosine").size(), 9u);
    EXPECT_DOUBLE_EQ(j["all"]["cosine"][0].get<double>(), 1.0);
    EXPECT_GT(j["all"]["sign_conflict_rate"].get<double>(), 0.0);
    EXPECT_EQ(j.at("blocks").size(), 3u);  // block 0, block 1, other
    EXPECT_EQ(j.at("ties_mask_overlap").at("jaccard").size(), 9u);
}

}  // namespace
}  // namespace ms
