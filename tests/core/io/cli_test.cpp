// mergescope-cli inspect / check / convert as a user runs them: output, JSON, exit codes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/test_support.h"

namespace ms {
namespace {

using test::runCli;

TEST(Cli, InspectJsonListsEveryTensorWithDtypeAndShape) {
    const auto r = runCli({"inspect", "--json", test::fixture("io/module_state_dict.pt")});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j.at("files").size(), 1u);
    const auto& f = j["files"][0];
    EXPECT_EQ(f.at("format"), "pytorch");
    const auto& expected = test::expectedIo().at("module_state_dict.pt").at("tensors");
    ASSERT_EQ(f.at("tensors").size(), expected.size());
    std::uint64_t params = 0;
    for (const auto& t : f["tensors"]) {
        const auto& e = expected.at(t.at("name").get<std::string>());
        EXPECT_EQ(t.at("dtype"), e.at("dtype"));
        EXPECT_EQ(t.at("shape"), e.at("shape"));
        params += t.at("params").get<std::uint64_t>();
    }
    EXPECT_EQ(f.at("total_params"), params);
}

TEST(Cli, InspectTableIsNaturallySortedWithTotals) {
    const auto r = runCli({"inspect", test::fixture("io/weights.h5")});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_NE(r.out.find("format: hdf5"), std::string::npos);
    EXPECT_NE(r.out.find("blocks.0.qkv.weight  F32"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("total (12 tensors)"), std::string::npos) << r.out;
    EXPECT_LT(r.out.find("blocks.0.qkv.bias"), r.out.find("mixed.bool"));
}

TEST(Cli, BadInputExitsTwoNamingTheFileAndKeepsGoodOutput) {
    const std::string bad = test::fixture("io/bad/evil_os_system.pt");
    const auto r = runCli({"inspect", test::fixture("io/all_dtypes.safetensors"), bad});
    EXPECT_EQ(r.exitCode, 2);
    EXPECT_NE(r.out.find("all_dtypes.safetensors"), std::string::npos);
    EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("refused global 'posix.system'"), std::string::npos) << r.err;
    EXPECT_EQ(runCli({"inspect", "/nonexistent/file.pt"}).exitCode, 2);
}

TEST(Cli, UsageErrorsExitTwoAndHelpExitsZero) {
    EXPECT_EQ(runCli({}).exitCode, 2);
    EXPECT_EQ(runCli({"inspect"}).exitCode, 2);
    EXPECT_EQ(runCli({"inspect", "--bogus", "x"}).exitCode, 2);
    const auto help = runCli({"inspect", "--help"});
    EXPECT_EQ(help.exitCode, 0);
    EXPECT_NE(help.out.find("--json"), std::string::npos);
    EXPECT_NE(runCli({"--version"}).out.find(MS_VERSION), std::string::npos);
    const auto filter = runCli({"inspect", "--filter", "(", test::fixture("io/weights.h5")});
    EXPECT_EQ(filter.exitCode, 2);
}

TEST(Cli, ConvertRecordsTheSourceHash) {
    test::TempDir tmp;
    const std::string src = test::fixture("io/training_checkpoint.ckpt");
    const std::string out = tmp.path("weights.safetensors");
    const auto conv = runCli({"convert", src, out});
    ASSERT_EQ(conv.exitCode, 0) << conv.err;
    const auto a = nlohmann::json::parse(runCli({"inspect", "--json", "--hash", src}).out);
    const auto b = nlohmann::json::parse(runCli({"inspect", "--json", out}).out);
    EXPECT_EQ(b["files"][0]["metadata"]["mergescope.source_xxh128"], a["files"][0]["hash"]);
    EXPECT_EQ(b["files"][0]["metadata"]["checkpoint.epoch"], "3");
    EXPECT_EQ(b["files"][0]["total_params"], a["files"][0]["total_params"]);
    // An output folder that does not exist is the user's to fix (issue 11): exit 2, before reading.
    EXPECT_EQ(runCli({"convert", src, "/nonexistent-dir/x.safetensors"}).exitCode, 2);
}

TEST(Cli, CheckReportsIncompatibleModels) {
    const std::string base = test::fixture("io/module_state_dict.pt");
    const auto same = runCli({"check", "--base", base, "--model", test::fixture("io/training_checkpoint.ckpt")});
    EXPECT_EQ(same.exitCode, 0) << same.out << same.err;
    EXPECT_NE(same.out.find("compatible"), std::string::npos);
    const auto diff = runCli({"check", "--base", base, "--model", test::fixture("io/all_dtypes.pt")});
    EXPECT_EQ(diff.exitCode, 2);
    EXPECT_NE(diff.out.find("qkv.weight: missing"), std::string::npos) << diff.out;
}

}  // namespace
}  // namespace ms
