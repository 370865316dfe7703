// `kit init` as a new user runs it on what they downloaded: the task-vectors release's whole
// pickled modules (an open_clip ImageEncoder and a ClassificationHead, tests/fixtures/io/modules,
// made by tests/fixtures/make_module_fixtures.py), and a CLIP with its text tower and class
// folders (tests/fixtures/kits/clip_names). The kit it writes passes kit check, and a merge of
// pickled modules keeps the module's state_dict() names and shapes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/source_factory.h"
#include "core/kit/kit_file.h"
#include "core/model/param_io.h"
#include "tests/test_support.h"

namespace ms::test {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kAllow = {"--pickle-allow", "src.*", "--pickle-allow", "open_clip.*", "--pickle-allow", "torchvision.*"};

struct Download {
    TempDir dir;
    Download() {
        // As downloaded: zeroshot.pt, finetuned/<task>.pt, heads/head_<task>.pt, and images.
        fs::create_directories(dir.path("finetuned"));
        fs::create_directories(dir.path("heads"));
        fs::copy_file(fixture("io/modules/image_encoder.pt"), dir.path("zeroshot.pt"));
        fs::copy_file(fixture("io/modules/image_encoder.pt"), dir.path("finetuned/circles.pt"));
        fs::copy_file(fixture("io/modules/image_encoder.pt"), dir.path("finetuned/shapes.pt"));
        fs::copy_file(fixture("io/modules/classification_head.pt"), dir.path("heads/head_circles.pt"));
        fs::copy_file(fixture("io/modules/classification_head.pt"), dir.path("heads/head_shapes.pt"));
    }
    std::vector<std::string> init(const std::vector<std::string>& extra) const {
        std::vector<std::string> a = {"kit",      "init",        "--out",  dir.path("kit/kit.yaml"),
                                      "--base",   dir.path("zeroshot.pt"), "--expert", "circles=" + dir.path("finetuned/circles.pt"),
                                      "--expert", "shapes=" + dir.path("finetuned/shapes.pt"),
                                      "--images", "circles=" + fixture("kits/clip_tiny/train"),
                                      "--images", "shapes=" + fixture("kits/clip_tiny/train"),
                                      "--eval",   "circles=" + fixture("kits/clip_tiny/test.csv"),
                                      "--head",   "circles=" + dir.path("heads/head_circles.pt"),
                                      "--head",   "shapes=" + dir.path("heads/head_shapes.pt")};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }
};

TEST(KitInit, TaskVectorsPicklesMakeAKitThatKitCheckAccepts) {
    const Download d;
    // Refused without the allow list, naming every class and how to accept them; nothing written.
    const auto refused = runCli(d.init({}));
    EXPECT_EQ(refused.exitCode, 2) << refused.out << refused.err;
    for (const char* cls : {"src.modeling.ImageEncoder", "open_clip.model.CLIP", "--pickle-allow", "pickle_allow"})
        EXPECT_NE(refused.err.find(cls), std::string::npos) << cls << "\n" << refused.err;
    EXPECT_FALSE(fs::exists(d.dir.path("kit/kit.yaml")));

    const auto r = runCli(d.init(kAllow));
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("layout open_clip under 'model.visual.'"), std::string::npos) << r.out;
    // The pickled module states what the shapes cannot: 4 heads of 16 (not 64 wide), exact GELU.
    EXPECT_NE(r.out.find("depth 2, 4 heads, mlp ×4.00, gelu"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("OK: no problems found"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("src.heads.ClassificationHead"), std::string::npos) << r.out;  // the head, read as the module it is
    const core::kit::KitFile k = core::kit::readKitFile(d.dir.path("kit/kit.yaml"));
    EXPECT_EQ(k.layout, "open_clip");
    EXPECT_EQ(k.preprocessPreset, "clip");
    EXPECT_EQ(k.pickleAllow, (std::vector<std::string>{"src.*", "open_clip.*", "torchvision.*"}));
    ASSERT_EQ(k.tasks.size(), 2u);
    EXPECT_EQ(k.tasks[0].head.file, d.dir.path("heads/head_circles.pt"));
    // An existing kit is not replaced without --force.
    EXPECT_EQ(runCli(d.init(kAllow)).exitCode, 2);
    std::vector<std::string> force = kAllow;
    force.push_back("--force");
    force.push_back("--no-check");
    EXPECT_EQ(runCli(d.init(force)).exitCode, 0);
}

TEST(KitInit, AMergeOfPickledModulesKeepsTheModulesStateDictNames) {
    const Download d;
    ASSERT_EQ(runCli(d.init(kAllow)).exitCode, 0);
    const auto r = runCli({"merge", "--kit", d.dir.path("kit/kit.yaml"), "--method", "task_arithmetic", "--set", "lambda=0.3", "--out",
                           d.dir.path("merged.safetensors")});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    // load_state_dict(strict=True) into src.modeling.ImageEncoder needs exactly these names and shapes.
    std::ifstream in(fixture("io/modules/expected_modules.json"));
    const auto expected = nlohmann::json::parse(in).at("image_encoder.pt").at("tensors");
    const auto merged = core::io::openCheckpoint(d.dir.path("merged.safetensors"));
    std::map<std::string, std::vector<std::int64_t>> got;
    for (const auto& t : merged->tensors()) got[t.name] = t.shape;
    ASSERT_EQ(got.size(), expected.size());
    for (const auto& [name, t] : expected.items()) {
        ASSERT_TRUE(got.count(name)) << name;
        EXPECT_EQ(got.at(name), t.at("shape").get<std::vector<std::int64_t>>()) << name;
    }
}

TEST(KitInit, AClipWithItsTextTowerGetsZeroShotHeadsFromTheClassFolders) {
    TempDir dir;
    const std::string clip = fixture("kits/clip_names/");
    const auto r = runCli({"kit", "init", "--out", dir.path("kit.yaml"), "--base", clip + "open_clip/model.safetensors", "--expert",
                           "a=" + clip + "circles-simple.safetensors", "--images", "a=" + fixture("kits/clip_tiny/train"), "--eval",
                           "a=" + fixture("kits/clip_tiny/test.csv"), "--templates", "simple"});
    ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("zero-shot from the 5 class folders"), std::string::npos) << r.out;
    const core::kit::KitFile k = core::kit::readKitFile(dir.path("kit.yaml"));
    EXPECT_EQ(k.tasks[0].head.classNames, (std::vector<std::string>{"c0", "c1", "c2", "c3", "c4"}));
    EXPECT_EQ(k.tasks[0].head.templateSet, "simple");
    // Bad requests name the option.
    const auto bad = runCli({"kit", "init", "--out", dir.path("k2.yaml"), "--base", clip + "open_clip/model.safetensors", "--expert",
                             "a=" + clip + "circles-simple.safetensors", "--images", "b=" + fixture("kits/clip_tiny/train")});
    EXPECT_EQ(bad.exitCode, 2);
    EXPECT_NE(bad.err.find("no expert is named b"), std::string::npos) << bad.err;
}

// The CLIP benchmark tables' numbers: absolute and normalized accuracy (merged / expert) per task
// and on average, at the proxy's pick and at the best point.
TEST(Report, AbsoluteAndNormalizedAccuracyPerTaskAndOnAverage) {
    TempDir dir;
    const std::string kit = fixture("kits/clip_names/kit.yaml");
    const auto r = runCli({"sweep", "--kit", kit, "--out", dir.path("exp.h5"), "--grid", "lambda=0,0.5,1", "--downstream", "frozen", "--probe-size",
                           "8", "--no-feature-cache"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const auto text = runCli({"report", dir.path("exp.h5")});
    ASSERT_EQ(text.exitCode, 0) << text.err;
    EXPECT_NE(text.out.find("the proxy's pick (#"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("merged     expert  normalized"), std::string::npos) << text.out;
    const auto json = nlohmann::json::parse(runCli({"report", dir.path("exp.h5"), "--json"}).out);
    const auto check = nlohmann::json::parse(runCli({"kit", "check", kit, "--json"}).out);
    for (const auto& p : json["sweeps"][0]["points"]) {
        const auto& d = p["downstream"];
        double sum = 0;
        for (const auto& t : check["tasks"]) {
            const std::string name = t["name"];
            const double merged = d["metric"][name], normalized = d["per_task"][name], expert = t["expert_score"];
            EXPECT_NEAR(normalized, merged / expert, 1e-9) << name;  // normalized accuracy: merged / expert
            sum += merged;
        }
        EXPECT_NEAR(d["absolute_mean"].get<double>(), sum / 2, 1e-9);
    }
}

}  // namespace
}  // namespace ms::test
