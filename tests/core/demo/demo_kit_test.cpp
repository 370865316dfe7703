// The demo kit on a reduced budget (seconds): manifest, determinism from the seed, cache reuse,
// corruption detection, and that the kit's checkpoints are what the merge engine expects.
#include "core/demo/demo_kit.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/io/source_factory.h"
#include "core/kit/kit_file.h"
#include "core/merge/merge_engine.h"
#include "tests/test_support.h"

namespace ms::core::demo {
namespace {

KitOptions reduced(const std::string& dir, std::uint64_t seed) {
    KitOptions o;
    o.dir = dir;
    o.seed = seed;
    o.budget.pretrainSteps = 3;
    o.budget.finetuneSteps = 2;
    o.budget.batch = 16;
    o.budget.evalLimit = 64;
    o.digitsDir = MS_MNIST_DIGITS_DIR;
    return o;
}

TEST(DemoKit, ReducedKitIsCompleteDeterministicAndCached) {
    test::TempDir tmp;
    bool reused = true;
    const KitManifest a = buildDemoKit(reduced(tmp.path("a"), 3), nullProgress(), nullptr, &reused);
    EXPECT_FALSE(reused);
    ASSERT_EQ(a.tasks.size(), 5u);
    EXPECT_EQ(a.tasks[0].task.name, "fashion-class");
    EXPECT_EQ(a.tasks[4].task.name, "digits-class");
    for (const auto& t : a.tasks) {
        EXPECT_TRUE(std::filesystem::exists(a.path(t.expertFile))) << t.expertFile;
        if (!kit::higherIsBetter(t.task.metric)) EXPECT_GT(t.expertScore, 0.0) << t.task.name;  // an error: metres, degrees
        else EXPECT_TRUE(t.expertScore >= 0.0 && t.expertScore <= 1.0) << t.task.name;
    }
    EXPECT_FALSE(std::filesystem::exists(tmp.path("a.partial")));

    // Same seed, another directory: the same bytes. Another seed: other weights.
    const KitManifest b = buildDemoKit(reduced(tmp.path("b"), 3), nullProgress(), nullptr);
    EXPECT_EQ(b.baseHash, a.baseHash);
    for (std::size_t i = 0; i < a.tasks.size(); ++i) EXPECT_EQ(b.tasks[i].hash, a.tasks[i].hash) << a.tasks[i].task.name;
    const KitManifest c = buildDemoKit(reduced(tmp.path("c"), 4), nullProgress(), nullptr);
    EXPECT_NE(c.baseHash, a.baseHash);

    // Cached: reused as is.
    buildDemoKit(reduced(tmp.path("a"), 3), nullProgress(), nullptr, &reused);
    EXPECT_TRUE(reused);

    // A corrupt cache is detected, named, and rebuilt, never used.
    const std::string expert = a.path(a.tasks[1].expertFile);
    {
        std::fstream f(expert, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(200);
        f.put('\x7f');
    }
    try {
        loadKit(tmp.path("a"), true);
        FAIL();
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("fashion-seg.safetensors"), std::string::npos) << e.what();
    }
    buildDemoKit(reduced(tmp.path("a"), 3), nullProgress(), nullptr, &reused);
    EXPECT_FALSE(reused);
    EXPECT_EQ(loadKit(tmp.path("a"), true).tasks[1].hash, a.tasks[1].hash);
}

TEST(DemoKit, ExpertsCarryTheirHeadsAndMergeWithTheEngine) {
    test::TempDir tmp;
    const KitManifest k = buildDemoKit(reduced(tmp.path("kit"), 1), nullProgress(), nullptr);
    merge::MergeSpec spec;
    spec.method = "task_arithmetic";
    spec.base = k.path(k.baseFile);
    for (const auto& t : k.tasks) spec.models.push_back({k.path(t.expertFile), t.task.name, {}, ""});
    merge::MergeEngine engine(spec);
    // Every encoder tensor merged; the five heads left out (each expert keeps its own).
    EXPECT_EQ(engine.problem().plan().merged.size(), model::vitParamShapes(k.config).size());
    EXPECT_EQ(engine.problem().plan().ignored, (std::vector<std::string>{"head.bias", "head.weight"}));
    const auto expert = io::openCheckpoint(k.path(k.tasks[2].expertFile));
    const auto head = nlohmann::json::parse(expert->metadata().at("mergescope.head"));
    EXPECT_EQ(head.at("kind"), "dense");  // depth: per patch, on the last four blocks
    EXPECT_EQ(head.at("outputs"), 1);
    EXPECT_EQ(head.at("layers"), (std::vector<int>{-4, -3, -2, -1}));
    EXPECT_EQ(loadKit(k.dir).tasks[2].head.layers, (std::vector<int>{-4, -3, -2, -1}));
    const auto info = nlohmann::json::parse(kitInfoJson(loadKit(k.dir)));
    ASSERT_EQ(info.at("tasks").size(), 5u);
    EXPECT_EQ(info["tasks"][1]["metric"], "miou");
    EXPECT_TRUE(info["tasks"][0].contains("expert_score"));
}

// The demo is a producer of ordinary kits: its folder holds a kit file (kit: 1) naming the models
// in place, the data sets' IDX files and the dense targets; a kit of an earlier release (its
// manifest in kit.yaml) is refused as a kit with the command that upgrades it, and that command
// writes the kit file without training again.
TEST(DemoKit, WritesAnOrdinaryKitFileAndUpgradesAnEarlierReleasesKitWithoutRetraining) {
    namespace fs = std::filesystem;
    test::TempDir tmp;
    const KitManifest k = buildDemoKit(reduced(tmp.path("kit"), 6), nullProgress(), nullptr);
    ASSERT_TRUE(kit::isKitFile(k.dir + "/kit.yaml"));
    const kit::KitFile f = kit::readKitFile(kit::resolveKitFile(k.dir));
    ASSERT_EQ(f.tasks.size(), k.tasks.size());
    EXPECT_EQ(f.base, fs::absolute(k.path(k.baseFile)).lexically_normal().string());
    for (std::size_t i = 0; i < f.tasks.size(); ++i) {
        EXPECT_EQ(f.tasks[i].name, k.tasks[i].task.name);
        EXPECT_EQ(f.tasks[i].expert, fs::absolute(k.path(k.tasks[i].expertFile)).lexically_normal().string());
        EXPECT_TRUE(fs::is_regular_file(f.tasks[i].images)) << f.tasks[i].images;
        EXPECT_TRUE(fs::is_regular_file(f.tasks[i].eval)) << f.tasks[i].eval;
        EXPECT_EQ(f.tasks[i].targets.empty(), k.tasks[i].task.type == kit::TaskType::Classification);
        EXPECT_TRUE(f.tasks[i].expertScores.empty()) << "scored on 64 images, not the whole eval set";
    }
    const auto mtime = fs::last_write_time(k.path(k.tasks[0].expertFile));

    // An earlier release's kit: the manifest in kit.yaml, no kit file, no data.
    fs::rename(k.dir + "/" + kManifestFile, k.dir + "/kit.yaml");
    fs::remove_all(k.dir + "/data");
    try {
        kit::resolveKitFile(k.dir);
        FAIL() << "an earlier release's demo kit is not a kit file";
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("demo build --dir " + k.dir), std::string::npos) << e.what();
    }
    EXPECT_EQ(loadKit(k.dir, true).baseHash, k.baseHash);  // still read as the demo's
    bool reused = false;
    buildDemoKit(reduced(k.dir, 6), nullProgress(), nullptr, &reused);
    EXPECT_TRUE(reused);
    EXPECT_TRUE(kit::isKitFile(k.dir + "/kit.yaml"));
    EXPECT_TRUE(fs::exists(k.dir + "/" + kManifestFile));
    EXPECT_EQ(kit::readKitFile(k.dir + "/kit.yaml").text, f.text);
    EXPECT_EQ(fs::last_write_time(k.path(k.tasks[0].expertFile)), mtime) << "not trained again";
}

}  // namespace
}  // namespace ms::core::demo
