// Zero-shot heads from class names: CLIP's text tower (open_clip and Hugging Face names), the
// tokenizer and the template average against python3-torch (tests/fixtures/kits/make_clip_names_kit.py),
// and a kit whose heads are made so, scored as PyTorch scores it.
#include "core/model/clip_text.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/eval/kit_check.h"
#include "core/eval/task_suite.h"
#include "core/io/cache_paths.h"
#include "core/io/source_factory.h"
#include "core/model/encoder_weights.h"
#include "core/model/heads.h"
#include "core/model/param_io.h"
#include "core/session/suite_loader.h"
#include "core/text/clip_tokenizer.h"
#include "tests/test_support.h"

namespace ms::core::model {
namespace {

namespace fs = std::filesystem;

const nlohmann::json& expected() {
    static const nlohmann::json j = [] {
        std::ifstream in(test::fixture("kits/clip_names/expected.json"));
        return nlohmann::json::parse(in);
    }();
    return j;
}

at::Tensor matrix(const nlohmann::json& rows) {
    std::vector<float> v;
    for (const auto& r : rows)
        for (const auto& x : r) v.push_back(x.get<float>());
    return at::tensor(v).reshape({static_cast<std::int64_t>(rows.size()), -1});
}

std::vector<std::string> strings(const nlohmann::json& j) { return j.get<std::vector<std::string>>(); }

// Points XDG_CACHE_HOME at a fresh folder for the test's lifetime.
class FreshCache {
public:
    FreshCache() {
        if (const char* b = std::getenv("XDG_CACHE_HOME")) m_before = b;
        ::setenv("XDG_CACHE_HOME", m_tmp.path("cache").c_str(), 1);
    }
    ~FreshCache() {
        if (m_before) ::setenv("XDG_CACHE_HOME", m_before->c_str(), 1);
        else ::unsetenv("XDG_CACHE_HOME");
    }

private:
    test::TempDir m_tmp;
    std::optional<std::string> m_before;
};

class ClipTextTowers : public ::testing::TestWithParam<std::string> {};

TEST_P(ClipTextTowers, ClassifiersFromClassNamesEqualPyTorchs) {
    const std::string dir = test::fixture("kits/clip_names/" + GetParam());
    const std::string file = dir + "/model.safetensors";
    const ClipTextTower tower = findTextTower(loadParams(*io::openCheckpoint(file)), file, configJsonFor(file));
    EXPECT_EQ(tower.layout, GetParam() == "hf" ? "hf_clip" : "open_clip");
    EXPECT_EQ(tower.config.heads, 2);  // from the config beside it (width 32 does not imply it)
    EXPECT_EQ(tower.contextLength(), 77);
    EXPECT_EQ(tower.embedDim(), 24);
    const text::ClipTokenizer tokenizer = text::ClipTokenizer::load(dir);
    const auto classes = strings(expected()["classes"]);
    for (const auto& [set, templates] : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"openai", text::templateSet("openai")}, {"simple", text::templateSet("simple")}, {"custom", strings(expected()["custom_templates"])}}) {
        SCOPED_TRACE(set);
        const at::Tensor got = zeroShotClassifier(tower, tokenizer, classes, templates);
        const at::Tensor want = matrix(expected()["heads"][set]);
        ASSERT_EQ(got.sizes(), want.sizes());
        EXPECT_LT((got - want).abs().max().item<float>(), 1e-5);
    }
}

INSTANTIATE_TEST_SUITE_P(Layouts, ClipTextTowers, ::testing::Values("open_clip", "hf"));

TEST(ClipText, VisionOnlyCheckpointsAndBadIdsAreRefusedByName) {
    const std::string file = test::fixture("kits/clip_names/circles-simple.safetensors");
    try {
        findTextTower(loadParams(*io::openCheckpoint(file)), file);
        FAIL();
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("circles-simple.safetensors"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("text_tower"), std::string::npos) << e.what();
    }
    const std::string full = test::fixture("kits/clip_names/open_clip/model.safetensors");
    const ClipTextTower tower = findTextTower(loadParams(*io::openCheckpoint(full)), full, configJsonFor(full));
    EXPECT_THROW(encodeText(tower, at::full({1, 77}, 100000, at::kLong)), InvalidArgument);
    EXPECT_THROW(encodeText(tower, at::zeros({1, 78}, at::kLong)), InvalidArgument);
}

TEST(ClipNamesKit, HeadsFromClassNamesScoreWhatPyTorchComputesAndAreCached) {
    FreshCache cache;
    eval::SuiteOptions options;
    options.probeSize = 8;
    options.realignSamples = 8;
    const std::string kit = test::fixture("kits/clip_names/kit.yaml");
    const eval::TaskSuite s = session::loadSuite(kit, options);
    EXPECT_EQ(s.kit.layout, "open_clip");
    EXPECT_EQ(s.config().projection, 24);
    ASSERT_EQ(s.tasks.size(), 2u);
    for (std::size_t t = 0; t < s.tasks.size(); ++t) {
        const auto& task = s.tasks[t];
        const auto& e = expected()["tasks"][t];
        SCOPED_TRACE(task.task.name);
        ASSERT_EQ(task.headConfig.kind, HeadKind::ZeroShot);
        EXPECT_EQ(task.head.count("head.projection"), 0u);  // each model's own projection
        const VitFeatures f = eval::encodeSet(s.config(), s.experts[t], *task.eval);
        const at::Tensor logits = headForward(task.headConfig, task.head, headTokens(task.headConfig, f, s.config().depth));
        EXPECT_LT((logits - matrix(e["logits"])).abs().max().item<float>(), 2e-3) << "logits scaled by 100";
        EXPECT_NEAR(task.expertScore, e["accuracy"].get<double>(), 1e-6);
    }
    // The experts' scores are kept by content and read back by the next load.
    EXPECT_EQ(std::distance(fs::directory_iterator(io::scoreCacheDir()), fs::directory_iterator()), 2);
    for (const auto& f : fs::directory_iterator(io::scoreCacheDir())) {
        std::ifstream in(f.path());
        const auto j = nlohmann::json::parse(in);
        EXPECT_TRUE(j["scores"]["accuracy"].is_number());
        std::ofstream(f.path(), std::ios::trunc) << R"({"scores": {"accuracy": 0.875}})";  // what a cached score says is taken
    }
    EXPECT_DOUBLE_EQ(session::loadSuite(kit, options).tasks[0].expertScore, 0.875);
    for (const auto& f : fs::directory_iterator(io::scoreCacheDir())) std::ofstream(f.path(), std::ios::trunc) << "junk";
    EXPECT_NEAR(session::loadSuite(kit, options).tasks[0].expertScore, expected()["tasks"][0]["accuracy"].get<double>(), 1e-6);  // damaged: measured again
    // Made once, then read from the cache (by the hashes of the tower, vocabulary, names, templates).
    EXPECT_EQ(std::distance(fs::directory_iterator(io::headCacheDir()), fs::directory_iterator()), 2);
    eval::CheckOptions check;
    check.scores = false;
    const eval::KitReport again = eval::checkKit(kit, check);
    ASSERT_TRUE(again.ok()) << again.problems.front();
    EXPECT_NE(again.tasks[0].head.find("cached"), std::string::npos) << again.tasks[0].head;
    // A damaged entry is made again.
    for (const auto& f : fs::directory_iterator(io::headCacheDir())) std::ofstream(f.path(), std::ios::trunc) << "junk";
    const eval::KitReport remade = eval::checkKit(kit, check);
    ASSERT_TRUE(remade.ok()) << remade.problems.front();
    EXPECT_EQ(remade.tasks[0].head.find("cached"), std::string::npos) << remade.tasks[0].head;
}

// Regression: a kit's `vocabulary:` naming a folder with open_clip's .txt.gz was hashed as if it
// held vocab.json + merges.txt (an I/O error); and a folder with no tokenizer is named.
TEST(ClipNamesKit, AKitsVocabularyFieldMayNameEitherKindOfFolder) {
    FreshCache cache;
    test::TempDir tmp;
    const std::string fx = test::fixture("kits/clip_names/");
    fs::create_directories(tmp.path("empty"));
    for (const std::string& vocabulary : std::vector<std::string>{fx + "open_clip", fx + "hf", fx + "hf/vocab.json", tmp.path("empty")}) {
        SCOPED_TRACE(vocabulary);
        std::ofstream(tmp.path("kit.yaml")) << "kit: 1\nbase: " << fx << "open_clip/model.safetensors\nvocabulary: " << vocabulary
                                             << "\npreprocess: {resize: 32, crop: 32, channels: 3}\ntasks:\n  - {name: a, expert: " << fx
                                             << "circles-simple.safetensors, images: " << test::fixture("kits/clip_tiny/train")
                                             << ", head: {classes: " << fx << "classes.txt, templates: simple}}\n";
        eval::CheckOptions check;
        check.scores = false;
        const eval::KitReport r = eval::checkKit(tmp.path("kit.yaml"), check);
        if (vocabulary == tmp.path("empty")) {
            ASSERT_FALSE(r.ok());
            EXPECT_NE(r.problems.front().find("holds no CLIP tokenizer"), std::string::npos) << r.problems.front();
        } else {
            ASSERT_TRUE(r.ok()) << r.problems.front();
            EXPECT_NE(r.tasks[0].head.find("from 5 class names"), std::string::npos) << r.tasks[0].head;
        }
    }
}

}  // namespace
}  // namespace ms::core::model
