// mergescope-cli demo build / demo info on a reduced budget.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/test_support.h"

namespace ms {
namespace {

TEST(DemoCli, BuildThenInfoJson) {
    test::TempDir tmp;
    const std::string dir = tmp.path("kit");
    const auto build = test::runCli({"demo", "build", "--dir", dir, "--seed", "5", "--pretrain-steps", "2",
                                     "--finetune-steps", "2", "--eval-limit", "32", "--digits-dir", MS_MNIST_DIGITS_DIR});
    ASSERT_EQ(build.exitCode, 0) << build.err;
    EXPECT_NE(build.out.find("fashion-normals"), std::string::npos) << build.out;
    const auto info = test::runCli({"demo", "info", "--dir", dir, "--json"});
    ASSERT_EQ(info.exitCode, 0) << info.err;
    const auto j = nlohmann::json::parse(info.out);
    EXPECT_EQ(j.at("seed"), 5);
    ASSERT_EQ(j.at("tasks").size(), 5u);
    for (const auto& t : j["tasks"]) {
        EXPECT_TRUE(t.contains("name") && t.contains("type") && t.contains("metric") && t.contains("expert_score"));
    }
    EXPECT_EQ(j["tasks"][2]["metric"], "abs_error");
    EXPECT_FALSE(j["tasks"][2]["higher_is_better"].get<bool>());
    const auto again = test::runCli({"demo", "build", "--dir", dir, "--seed", "5", "--pretrain-steps", "2",
                                     "--finetune-steps", "2", "--eval-limit", "32", "--digits-dir", MS_MNIST_DIGITS_DIR});
    EXPECT_NE(again.out.find("reusing the cached kit"), std::string::npos) << again.out;
}

TEST(DemoCli, MissingKitIsABadInputWithAHint) {
    test::TempDir tmp;
    const auto r = test::runCli({"demo", "info", "--dir", tmp.path("none")});
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.err.find("mergescope-cli demo build"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ms
