// mergescope-cli merge / methods / analyze as a user runs them.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
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
