// Kits of the user's own: a reduced-size Hugging Face CLIP kit with zero-shot heads scored
// against python3-torch (tests/fixtures/kits/make_clip_kit.py), the demo kit exported as a user
// kit (another layout, head files, PNG folders, CSV lists, mask and 16-bit edge maps) scoring
// what the demo says, a proxy-only task sweeping, and malformed kits refused by kit check and
// by sweep with exit 2, naming the file.
#include "core/session/suite_loader.h"
#include "core/eval/kit_suite.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/data/mnist_readers.h"
#include "core/data/npy.h"
#include "core/demo/demo_export.h"
#include "core/demo/kit_trainer.h"
#include "core/io/content_hash.h"
#include "core/errors.h"
#include "core/eval/task_batches.h"
#include "core/io/source_factory.h"
#include "core/model/heads.h"
#include "core/model/param_io.h"
#include "tests/core/eval/reduced_kit.h"
#include "tests/test_support.h"

namespace ms::test {
namespace {

namespace fs = std::filesystem;
using core::eval::TaskSuite;

std::string readAll(const std::string& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The CLIP fixture kit copied into `dir` (so a test can break it).
std::string clipKit(const TempDir& dir) {
    fs::copy(fixture("kits/clip_tiny"), dir.dir(), fs::copy_options::recursive);
    return dir.path("kit.yaml");
}

void replaceInFile(const std::string& path, const std::string& from, const std::string& to) {
    std::string s = readAll(path);
    const auto at = s.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    std::ofstream(path) << s;
}

core::eval::SuiteOptions small() {
    core::eval::SuiteOptions o;
    o.probeSize = 10;
    o.realignSamples = 10;
    return o;
}

TEST(ClipKit, ZeroShotHeadsScoreWhatPyTorchComputes) {
    const TaskSuite s = core::session::loadSuite(fixture("kits/clip_tiny/kit.yaml"), small());
    EXPECT_EQ(s.kit.layout, "hf_clip");
    EXPECT_EQ(s.config().heads, 2);  // from config.json's vision_config (shapes alone would say 1)
    EXPECT_EQ(s.config().activation, core::kit::Activation::QuickGelu);
    EXPECT_TRUE(s.config().preNorm);
    EXPECT_FALSE(s.config().patchBias);
    std::ifstream in(fixture("kits/clip_tiny/expected.json"));
    const auto expected = nlohmann::json::parse(in);
    ASSERT_EQ(s.tasks.size(), 2u);
    for (std::size_t t = 0; t < s.tasks.size(); ++t) {
        const auto& task = s.tasks[t];
        const auto& e = expected["tasks"][t];
        SCOPED_TRACE(task.task.name);
        ASSERT_EQ(task.headConfig.kind, core::model::HeadKind::ZeroShot);
        ASSERT_TRUE(task.eval);
        const at::Tensor tokens = core::eval::encodeSet(s.config(), s.experts[t], *task.eval).tokens;
        const at::Tensor logits = core::model::headForward(task.headConfig, task.head, tokens);
        ASSERT_EQ(logits.size(0), static_cast<std::int64_t>(e["logits"].size()));
        double worst = 0;
        for (std::int64_t i = 0; i < logits.size(0); ++i)
            for (std::int64_t c = 0; c < logits.size(1); ++c)
                worst = std::max(worst, std::abs(logits[i][c].item<double>() - e["logits"][i][c].get<double>()));
        EXPECT_LT(worst, 2e-3) << "logits are scaled by 100; JPEG decoding and preprocessing are exact";
        EXPECT_NEAR(task.expertScore, e["accuracy"].get<double>(), 1e-6);  // PyTorch took a float32 mean
    }
    // The two experts came as safetensors and as a nested PyTorch .bin, both without the
    // vision_model. prefix of the base: their weights differ from the base's, as fine-tuned.
    EXPECT_GT((s.experts[0].at("blocks.0.attn.q.weight") - s.base.at("blocks.0.attn.q.weight")).abs().max().item<float>(), 0);
    EXPECT_GT((s.experts[1].at("norm.weight") - s.base.at("norm.weight")).abs().max().item<float>(), 0);
}

TEST(ClipKit, MalformedKitsAreRefusedByKitCheckAndBySweepNamingTheProblem) {
    struct Case {
        std::string what;
        std::function<void(const TempDir&)> breakIt;
        std::string needle;
        std::vector<std::string> extra;  // kit check / sweep flags
    };
    const std::vector<Case> cases = {
        {"missing file", [](const TempDir& d) { replaceInFile(d.path("kit.yaml"), "shapes.safetensors", "gone.safetensors"); },
         "gone.safetensors", {}},
        {"wrong-width head",
         [](const TempDir& d) {
             core::model::writeParams(d.path("narrow.safetensors"), {{"weight", at::zeros({5, 32})}, {"bias", at::zeros({5})}}, {});
             replaceInFile(d.path("kit.yaml"), "{text: shapes_text.safetensors}", "narrow.safetensors");
         },
         "reads width 64", {}},
        {"unreadable image", [](const TempDir& d) { fs::copy_file(fixture("images/truncated.jpg"), d.path("train/c1/broken.jpg")); },
         "broken.jpg", {}},
        {"missing labels for head-realign",
         [](const TempDir& d) {
             fs::create_directories(d.path("flat"));
             for (const auto& f : fs::directory_iterator(d.path("train/c0"))) fs::copy_file(f.path(), d.path("flat") + "/" + f.path().filename().string());
             replaceInFile(d.path("kit.yaml"), "images: train", "images: flat");
         },
         "have no labels", {"--downstream", "head-realign"}},
        {"expert of another architecture",
         [](const TempDir& d) {
             core::model::ParamMap p = core::model::loadParams(*core::io::openCheckpoint(d.path("shapes.safetensors")));
             for (auto it = p.begin(); it != p.end();) it = it->first.starts_with("encoder.layers.1.") ? p.erase(it) : std::next(it);
             core::model::writeParams(d.path("shapes.safetensors"), p, {});
         },
         "not the base's architecture", {}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        TempDir dir;
        const std::string kit = clipKit(dir);
        c.breakIt(dir);
        std::vector<std::string> check = {"kit", "check", kit};
        check.insert(check.end(), c.extra.begin(), c.extra.end());
        const auto r = runCli(check);
        EXPECT_EQ(r.exitCode, 2) << r.out << r.err;
        EXPECT_NE(r.out.find(c.needle), std::string::npos) << r.out;
        std::vector<std::string> sweep = {"sweep", "--kit", kit, "--out", dir.path("exp.h5"), "--grid", "lambda=0.5,1",
                                          "--probe-size", "8", "--no-feature-cache"};
        if (c.extra.empty()) sweep.insert(sweep.end(), {"--downstream", "frozen"});
        else sweep.insert(sweep.end(), c.extra.begin(), c.extra.end());
        const auto s = runCli(sweep);
        EXPECT_EQ(s.exitCode, 2) << s.out << s.err;
        EXPECT_NE(s.err.find(c.needle), std::string::npos) << s.err;
        EXPECT_FALSE(fs::exists(dir.path("exp.h5"))) << "nothing is written for a refused kit";
    }
}

// A score the kit gives for an expert is taken when the load scores the whole eval set (no
// subset drawn), measured otherwise; kit check measures it and names a score that differs.
TEST(ClipKit, AGivenExpertScoreIsTakenOnTheWholeEvalSetAndCheckedByKitCheck) {
    TempDir dir;
    const std::string kit = clipKit(dir);
    const TaskSuite measured = core::session::loadSuite(kit, small());
    replaceInFile(kit, "    head: {text: shapes_text.safetensors}", "    head: {text: shapes_text.safetensors}\n    expert_score: 0.125");
    const TaskSuite given = core::session::loadSuite(kit, small());
    EXPECT_EQ(given.tasks[0].expertScore, 0.125);
    EXPECT_EQ(given.tasks[1].expertScore, measured.tasks[1].expertScore);
    core::eval::SuiteOptions subset = small();
    subset.evalLimit = 4;
    EXPECT_NE(core::session::loadSuite(kit, subset).tasks[0].expertScore, 0.125);
    const auto check = runCli({"kit", "check", dir.dir().string(), "--json"});  // a kit folder names its kit.yaml
    EXPECT_EQ(check.exitCode, 2) << check.out << check.err;
    EXPECT_NE(check.out.find("shapes: expert_score accuracy is 0.125"), std::string::npos) << check.out;
    // The measured score written back: no problem.
    std::ostringstream exact;
    exact.precision(17);
    exact << measured.tasks[0].expertScore;
    replaceInFile(kit, "expert_score: 0.125", "expert_score: " + exact.str());
    const auto ok = runCli({"kit", "check", kit});
    EXPECT_EQ(ok.exitCode, 0) << ok.out << ok.err;
}

// The reduced demo kit exported into `dir` in `format` (a second or two).
std::string exportReducedKit(const TempDir& dir, const std::string& format) {
    core::demo::ExportOptions o;
    o.kitDir = reducedKit().dir;
    o.outDir = dir.path("kit");
    o.trainImages = 120;
    o.format = format;
    o.digitsDir = MS_MNIST_DIGITS_DIR;
    return core::demo::exportDemoKit(o);
}

// Exported once per process.
const std::string& exportedKit() {
    static TempDir dir;
    static const std::string kit = exportReducedKit(dir, "png");
    return kit;
}

// Expert scores compared to the last bit with this process's own computation are measured here,
// not read from the score cache (another process's threads may round the last bit otherwise).
core::eval::SuiteOptions measured() {
    core::eval::SuiteOptions o = small();
    o.measureExpertScores = true;
    return o;
}

TEST(ExportedDemoKit, ItsExpertsScoreWhatTheDemoKitSays) {
    core::eval::SuiteOptions o = measured();
    const TaskSuite user = core::session::loadSuite(exportedKit(), o);
    EXPECT_TRUE(core::kit::isKitFile(user.kit.path)) << user.kit.path;  // loaded as a kit file, not as the demo
    EXPECT_EQ(user.kit.layout, "hf_dinov2");
    EXPECT_EQ(user.config().heads, reducedKit().config.heads);  // config.json beside the models
    // The same experts scored by the demo's own evaluation (the function that wrote the manifest)
    // on the same first 200 test images, in this process: equal to the last bit, except depth
    // (16-bit PNG millimetres: within their rounding, 0.5 mm).
    const auto& k = reducedKit();
    const core::demo::KitData data = core::demo::loadKitData(core::data::kFashionMnistDir, MS_MNIST_DIGITS_DIR, k.seed);
    const TaskSuite demo = core::session::loadSuite(k.dir, o);  // the demo kit's own kit file
    ASSERT_EQ(user.tasks.size(), demo.tasks.size());
    for (std::size_t t = 0; t < user.tasks.size(); ++t) {
        const auto& u = user.tasks[t];
        SCOPED_TRACE(u.task.name);
        EXPECT_EQ(u.task.type, demo.tasks[t].task.type);
        EXPECT_EQ(u.eval->count, 200);
        const double own = core::demo::evaluateTask(core::demo::findDemoTask(u.task.name), k.config, demo.experts[t], demo.tasks[t].head,
                                                    demo.tasks[t].headConfig, data, 200);
        if (u.task.type == core::kit::TaskType::Depth) EXPECT_NEAR(u.expertScore, own, 5e-4);
        else EXPECT_DOUBLE_EQ(u.expertScore, own);
        // And what the demo kit's manifest says (scored when it was built, one thread): one
        // image of 200 may fall on the other side of a near tie.
        EXPECT_NEAR(u.expertScore, reducedKit().task(u.task.name).expertScore, 0.0051);
        // (q, k, v kept apart as the DINOv2 file stores them: fused, the demo's tensors to the bit)
        const auto fused = core::model::fusedQkv(user.experts[t]);
        EXPECT_EQ(fused.size(), demo.experts[t].size());
        for (const auto& [name, t0] : fused) EXPECT_TRUE(demo.experts[t].count(name) && t0.equal(demo.experts[t].at(name))) << name;
    }
    // The four Fashion-MNIST tasks share one probe set, as in the demo.
    EXPECT_EQ(user.tasks[0].probe, user.tasks[1].probe);
    EXPECT_EQ(user.tasks[0].probe, user.tasks[3].probe);
    EXPECT_NE(user.tasks[0].probe, user.tasks[4].probe);
}

// The demo kit's own kit file (Fashion-MNIST from the Debian package, the digits split as IDX
// files, dense targets as IDX map files) loads the demo's data: the draws, pixels and targets
// the demo computes itself from its data sets (kit_trainer.h), drawn as documented (docs/kits.md:
// class-balanced, seeded by the data set key).
TEST(DemoKitFile, LoadsTheDemosDataDrawsAndTargets) {
    const auto& k = reducedKit();
    EXPECT_TRUE(core::kit::isKitFile(k.dir + "/kit.yaml"));
    core::eval::SuiteOptions o = small();
    o.evalLimit = 40;
    o.realignSamples = 30;
    const TaskSuite suite = core::session::loadSuite(k.dir, o);
    const core::demo::KitData data = core::demo::loadKitData(core::data::kFashionMnistDir, MS_MNIST_DIGITS_DIR, k.seed);
    ASSERT_EQ(suite.tasks.size(), k.tasks.size());
    for (std::size_t i = 0; i < suite.tasks.size(); ++i) {
        const auto& t = suite.tasks[i];
        SCOPED_TRACE(t.task.name);
        const auto& demoTask = core::demo::findDemoTask(t.task.name);
        EXPECT_EQ(t.task.type, demoTask.type);
        EXPECT_EQ(t.task.metric, demoTask.metric);
        EXPECT_EQ(t.task.outputs, demoTask.outputs);
        const auto& train = data.train(demoTask);
        const auto& test = data.test(demoTask);
        const std::uint64_t seed = o.seed * 7 + std::stoull(core::io::hashBytes(demoTask.dataset.data(), demoTask.dataset.size()).substr(0, 6), nullptr, 16);
        const auto probe = core::eval::drawBalanced(train.labels, train.classes, static_cast<std::size_t>(train.count), o.probeSize, seed);
        const auto realign = core::eval::drawBalanced(train.labels, train.classes, static_cast<std::size_t>(train.count), o.realignSamples, seed + 1, probe);
        const auto evalIdx = core::eval::drawBalanced(test.labels, test.classes, static_cast<std::size_t>(test.count), o.evalLimit, seed + 2);
        EXPECT_EQ(t.probe->pixels, train.subset(probe, "p").pixels);
        EXPECT_EQ(t.realign->pixels, train.subset(realign, "r").pixels);
        EXPECT_EQ(t.eval->pixels, test.subset(evalIdx, "e").pixels);
        EXPECT_EQ(t.eval->labels, test.subset(evalIdx, "e").labels);
        // The same values, and invalid pixels (NaN) in the same places.
        const auto same = [](const at::Tensor& a, const at::Tensor& b) {
            if (!a.is_floating_point()) return a.equal(b);
            return a.sizes() == b.sizes() && a.isnan().equal(b.isnan()) && a.nan_to_num(-7.0).equal(b.nan_to_num(-7.0));
        };
        EXPECT_TRUE(same(t.realignTargets, core::demo::demoTargets(demoTask, train, realign))) << t.realignTargets.sizes();
        EXPECT_TRUE(same(t.evalTargets, core::demo::demoTargets(demoTask, test, evalIdx))) << t.evalTargets.sizes();
        if (t.realignTargets.is_floating_point()) {
            EXPECT_TRUE(t.realignTargets.isnan().any().item<bool>()) << "the background is invalid";
        } else if (t.task.type == core::kit::TaskType::Segmentation) {
            EXPECT_TRUE(t.realignTargets.eq(-1).any().item<bool>()) << "the outline band is unlabelled";
        }
        // The experts and their heads as the demo trained them.
        const auto expert = core::model::loadParams(*core::io::openCheckpoint(k.path(k.task(t.task.name).expertFile)));
        for (const auto& [name, w] : t.head) EXPECT_TRUE(w.equal(expert.at(name))) << name;
        EXPECT_EQ(t.headConfig.kind, k.task(t.task.name).head.kind);
        EXPECT_EQ(t.headConfig.pooling, k.task(t.task.name).head.pooling);
    }
}

// The demo kit in the NYUv2 .npy release's layout ({train,val}/{image,label,depth,normal}/{i}.npy): it
// loads, its experts score what the demo's own evaluation gives (exactly: the maps are floats),
// and a sweep with head re-alignment reports ΔMTL.
const std::string& npyKit() {
    static TempDir dir;
    static const std::string kit = exportReducedKit(dir, "npy");
    return kit;
}

TEST(NyuLayoutKit, TheDemoAsNpyScoresWhatTheDemoSaysAndSweepsWithDeltaMtl) {
    const fs::path root = fs::path(npyKit()).parent_path();
    EXPECT_TRUE(fs::exists(root / "data/fashion-mnist/train/image/0.npy"));
    EXPECT_TRUE(fs::exists(root / "data/fashion-mnist/val/label/0.npy"));
    EXPECT_EQ(core::data::readNpy((root / "data/fashion-mnist/val/depth/0.npy").string()).shape, (std::vector<std::int64_t>{28, 28, 1}));
    EXPECT_EQ(core::data::readNpy((root / "data/fashion-mnist/val/normal/0.npy").string()).shape, (std::vector<std::int64_t>{28, 28, 3}));
    EXPECT_EQ(core::data::readNpy((root / "data/fashion-mnist/val/image/0.npy").string()).shape, (std::vector<std::int64_t>{28, 28, 1}));
    const TaskSuite user = core::session::loadSuite(npyKit(), measured());
    const auto& k = reducedKit();
    const core::demo::KitData data = core::demo::loadKitData(core::data::kFashionMnistDir, MS_MNIST_DIGITS_DIR, k.seed);
    const TaskSuite demo = core::session::loadSuite(k.dir, small());
    ASSERT_EQ(user.tasks.size(), 5u);
    for (std::size_t t = 0; t < user.tasks.size(); ++t) {
        const auto& u = user.tasks[t];
        SCOPED_TRACE(u.task.name);
        EXPECT_EQ(u.eval->count, 200);
        const double own = core::demo::evaluateTask(core::demo::findDemoTask(u.task.name), k.config, demo.experts[t], demo.tasks[t].head,
                                                    demo.tasks[t].headConfig, data, 200);
        EXPECT_DOUBLE_EQ(u.expertScore, own);
    }
    TempDir tmp;
    const auto r = runCli({"sweep", "--kit", npyKit(), "--out", tmp.path("exp.h5"), "--grid", "lambda=0.5,1", "--downstream", "head-realign",
                           "--probe-size", "16", "--realign-samples", "60", "--no-feature-cache"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const auto rep = nlohmann::json::parse(runCli({"report", tmp.path("exp.h5"), "--json"}).out);
    const auto& d = rep["sweeps"][0]["points"][1]["downstream"];
    EXPECT_TRUE(d["delta_mtl"].is_number()) << d.dump();
    EXPECT_TRUE(d["metrics"]["fashion-seg"]["pixel_accuracy"].is_number()) << d.dump();
}

// A dense head reading several blocks (DINOv2's probe: batch norm, 1×1 map, bilinear) on a task
// whose decoder is not given: kit check describes it, head re-alignment trains it and scores
// the task like any other.
TEST(NyuLayoutKit, AMultiBlockProbeHeadIsTrainedByHeadRealignment) {
    TempDir dir;
    fs::copy(fs::path(npyKit()).parent_path(), dir.dir(), fs::copy_options::recursive);
    // Foreground / background masks from the demo's garment classes (-1 stays unlabelled).
    for (const char* split : {"train", "val"}) {
        fs::create_directories(dir.path(std::string("data/fashion-mnist/") + split + "/fg"));
        for (const auto& f : fs::directory_iterator(dir.path(std::string("data/fashion-mnist/") + split + "/label"))) {
            core::data::NpyArray a = core::data::readNpy(f.path().string());
            for (float& v : a.values) v = v > 0 ? 1.0f : v;
            core::data::writeNpy((f.path().parent_path().parent_path() / "fg" / f.path().filename()).string(), a.shape, a.values.data());
        }
    }
    const std::string kit = dir.path("kit.yaml");
    std::ofstream(kit, std::ios::app) << "  - name: seg-probe\n    type: segmentation\n    classes: 2\n"
                                         "    expert: models/fashion-seg.safetensors\n    head: {kind: dense, layers: [-2, -1]}\n"
                                         "    images: data/fashion-mnist/train/list.csv\n    targets: data/fashion-mnist/train/fg\n"
                                         "    eval: data/fashion-mnist/val/list.csv\n    eval_targets: data/fashion-mnist/val/fg\n"
                                         "    dataset: fashion-mnist\n";
    const auto check = runCli({"kit", "check", kit, "--eval-limit", "40", "--no-scores"});
    ASSERT_EQ(check.exitCode, 0) << check.out << check.err;
    EXPECT_NE(check.out.find("dense probe, 2 outputs per pixel, reads blocks [-2, -1]"), std::string::npos) << check.out;
    const auto r = runCli({"sweep", "--kit", kit, "--out", dir.path("exp.h5"), "--grid", "lambda=0.5", "--downstream", "head-realign",
                           "--probe-size", "16", "--realign-samples", "60", "--eval-limit", "40", "--no-feature-cache"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const auto rep = nlohmann::json::parse(runCli({"report", dir.path("exp.h5"), "--json"}).out);
    const double miou = rep["sweeps"][0]["points"][0]["downstream"]["metric"]["seg-probe"].get<double>();
    EXPECT_GT(miou, 0.5) << "a trained probe separates foreground from background";
}

// `dense_patch` and `dense_probe` say which dense form a head takes whatever its layers: the
// demo's heads are per patch on four blocks; a probe can read the final tokens; neither kind fits
// a classification task.
TEST(NyuLayoutKit, HeadKindsSayWhichDenseForm) {
    TempDir dir;
    fs::copy(fs::path(npyKit()).parent_path(), dir.dir(), fs::copy_options::recursive);
    const std::string kit = dir.path("kit.yaml");
    EXPECT_NE(readAll(kit).find("kind: dense_patch"), std::string::npos);
    std::ofstream(kit, std::ios::app) << "  - name: seg-final\n    type: segmentation\n    classes: 6\n"
                                         "    expert: models/fashion-seg.safetensors\n    head: {kind: dense_probe}\n"
                                         "    images: data/fashion-mnist/train/list.csv\n    targets: data/fashion-mnist/train/label\n"
                                         "    dataset: fashion-mnist\n";
    const auto check = runCli({"kit", "check", kit, "--eval-limit", "40", "--no-scores"});
    ASSERT_EQ(check.exitCode, 0) << check.out << check.err;
    EXPECT_NE(check.out.find("dense, 6 outputs per pixel, reads blocks [-4, -3, -2, -1]"), std::string::npos) << check.out;
    EXPECT_NE(check.out.find("dense probe, 6 outputs per pixel (none given"), std::string::npos) << check.out;
    std::ofstream(kit, std::ios::app) << "  - name: class-patch\n    expert: models/fashion-class.safetensors\n"
                                         "    head: {kind: dense_patch}\n    images: data/fashion-mnist/train/list.csv\n";
    const auto bad = runCli({"kit", "check", kit, "--no-scores"});
    EXPECT_EQ(bad.exitCode, 2) << bad.out;
    EXPECT_NE(bad.out.find("task class-patch: a dense_patch head on a classification task"), std::string::npos) << bad.out;
}

// Rectangular images (28×24 here, as NYUv2's 288×384): the patch grid is padded to 4×4, position
// embeddings interpolated, dense outputs cropped back to 28×24 to meet the targets; every task
// scores frozen and re-aligned.
TEST(NyuLayoutKit, RectangularImagesAreScoredAtTheirOwnSize) {
    TempDir dir;
    fs::copy(fs::path(npyKit()).parent_path(), dir.dir(), fs::copy_options::recursive);
    for (const char* split : {"train", "val"})
        for (const char* sub : {"image", "label", "depth", "normal"})
            for (const auto& f : fs::directory_iterator(dir.path(std::string("data/fashion-mnist/") + split + "/" + sub))) {
                core::data::NpyArray a = core::data::readNpy(f.path().string());
                const std::int64_t channels = a.shape.size() == 3 ? a.shape[2] : 1;
                std::vector<float> cropped;
                for (std::int64_t y = 0; y < 28; ++y)
                    for (std::int64_t x = 0; x < 24; ++x)
                        for (std::int64_t c = 0; c < channels; ++c) cropped.push_back(a.values[static_cast<std::size_t>((y * 28 + x) * channels + c)]);
                std::vector<std::int64_t> shape = {28, 24};
                if (a.shape.size() == 3) shape.push_back(channels);
                core::data::writeNpy(f.path().string(), shape, cropped.data());
            }
    core::eval::SuiteOptions o = small();
    o.evalLimit = 40;
    const TaskSuite suite = core::session::loadSuite(dir.path("kit.yaml"), o);
    EXPECT_EQ(suite.tasks[1].eval->width, 24);
    EXPECT_EQ(suite.tasks[1].eval->height, 28);
    EXPECT_EQ(suite.tasks[1].evalTargets.size(2), 24);
    for (const auto& t : suite.tasks) EXPECT_TRUE(std::isfinite(t.expertScore)) << t.task.name;
    const auto r = runCli({"sweep", "--kit", dir.path("kit.yaml"), "--out", dir.path("exp.h5"), "--grid", "lambda=0.5", "--downstream",
                           "head-realign", "--probe-size", "16", "--realign-samples", "40", "--eval-limit", "40", "--no-feature-cache"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const auto rep = nlohmann::json::parse(runCli({"report", dir.path("exp.h5"), "--json"}).out);
    EXPECT_TRUE(rep["sweeps"][0]["points"][0]["downstream"]["delta_mtl"].is_number()) << rep.dump().substr(0, 2000);
}

// Hostile NYUv2-style data is refused by kit check (exit 2) naming the file: a mask value that is
// neither a class nor the unlabelled value, a 1-channel map for a normals task, an image whose
// .npy header claims more data than the file holds. Unlabelled pixels (-1) are fine.
TEST(NyuLayoutKit, HostileMapsAreRefusedNamingTheFile) {
    const fs::path root = fs::path(npyKit()).parent_path();
    const auto copyKit = [&](const TempDir& dir) {
        fs::copy(root, dir.dir(), fs::copy_options::recursive);
        return dir.path("kit.yaml");
    };
    const auto labelWith = [](const std::string& file, float value) {
        core::data::NpyArray a = core::data::readNpy(file);
        a.values[5] = value;
        core::data::writeNpy(file, a.shape, a.values.data());
    };
    {
        TempDir dir;
        const std::string kit = copyKit(dir);
        labelWith(dir.path("data/fashion-mnist/val/label/3.npy"), -1.0f);  // unlabelled: fine
        const auto ok = runCli({"kit", "check", kit, "--eval-limit", "40"});
        EXPECT_EQ(ok.exitCode, 0) << ok.out << ok.err;
        labelWith(dir.path("data/fashion-mnist/val/label/3.npy"), 7.0f);
        const auto bad = runCli({"kit", "check", kit});
        EXPECT_EQ(bad.exitCode, 2) << bad.out;
        EXPECT_NE(bad.out.find(dir.path("data/fashion-mnist/val/label/3.npy") + ": task fashion-seg: class 7 in the mask"), std::string::npos)
            << bad.out;
    }
    const std::string normalsTask = "  - name: normals\n    type: normals\n    expert: models/fashion-depth.safetensors\n"
                                    "    images: data/fashion-mnist/train/list.csv\n    targets: data/fashion-mnist/train/depth\n"
                                    "    eval: data/fashion-mnist/val/list.csv\n    eval_targets: data/fashion-mnist/val/depth\n"
                                    "    dataset: fashion-mnist\n";
    {
        TempDir dir;
        const std::string kit = copyKit(dir);
        std::ofstream(kit, std::ios::app) << normalsTask;  // no head: the project's, 3 outputs; the maps have 1 channel
        const auto bad = runCli({"kit", "check", kit, "--eval-limit", "40"});
        EXPECT_EQ(bad.exitCode, 2) << bad.out;
        EXPECT_NE(bad.out.find(dir.path("data/fashion-mnist/train/depth/0.npy") + ": task normals: a normals map has 3 channels (x, y, z) per pixel, this one 1"),
                  std::string::npos)
            << bad.out;
        std::ofstream(kit, std::ios::app)
            << "    head: {file: heads/fashion-depth.safetensors, kind: dense_patch, layers: [-4, -3, -2, -1]}\n";  // a 1-output head
        const auto head = runCli({"kit", "check", kit, "--eval-limit", "40"});
        EXPECT_EQ(head.exitCode, 2) << head.out;
        EXPECT_NE(head.out.find("task normals: a normals head has 3 outputs per pixel, this one 1"), std::string::npos) << head.out;
    }
    {
        TempDir dir;
        const std::string kit = copyKit(dir);
        const std::string image = dir.path("data/fashion-mnist/val/image/2.npy");
        std::string bytes = readAll(image);
        const auto at = bytes.find("(28, 28, 1)");
        ASSERT_NE(at, std::string::npos);
        bytes.replace(at, 11, "(28, 28, 3)");
        std::ofstream(image, std::ios::binary) << bytes;
        const auto bad = runCli({"kit", "check", kit});
        EXPECT_EQ(bad.exitCode, 2) << bad.out;
        EXPECT_NE(bad.out.find(image), std::string::npos) << bad.out;
        EXPECT_NE(bad.out.find("the header's shape and type say"), std::string::npos) << bad.out;
    }
}

TEST(ExportedDemoKit, AProxyOnlyTaskSweepsBesideScoredOnes) {
    TempDir dir;
    const std::string kit = dir.path("kit.yaml");
    const std::string exported = exportedKit();
    const fs::path root = fs::path(exported).parent_path();
    // An unlabelled folder of digits, no eval set: proxy only. Paths of the export made absolute.
    fs::create_directories(dir.path("probe"));
    int n = 0;
    for (const auto& f : fs::directory_iterator(root / "data/mnist-digits/train/class-3"))
        if (n++ < 20) fs::copy_file(f.path(), dir.path("probe/" + f.path().filename().string()));
    std::string text = std::regex_replace(readAll(exported), std::regex(R"((expert|images|eval|targets|eval_targets|base|file): (models|data|heads)/)"),
                                          "$1: " + root.string() + "/$2/");
    text += "  - name: digits-probe\n    expert: " + (root / "models/digits-class.safetensors").string() + "\n    images: probe\n";
    std::ofstream(kit) << text;
    const auto check = runCli({"kit", "check", kit, "--json"});
    ASSERT_EQ(check.exitCode, 0) << check.out << check.err;
    const auto j = nlohmann::json::parse(check.out);
    ASSERT_EQ(j["tasks"].size(), 6u);
    EXPECT_EQ(j["tasks"][5]["name"], "digits-probe");
    EXPECT_TRUE(j["tasks"][5]["expert_score"].is_null());
    EXPECT_TRUE(j["tasks"][5]["scores"]["proxy"].get<bool>());
    EXPECT_FALSE(j["tasks"][5]["scores"]["frozen"].get<bool>());
    EXPECT_TRUE(j["tasks"][0]["scores"]["head-realign"].get<bool>());
    const auto r = runCli({"sweep", "--kit", kit, "--out", dir.path("exp.h5"), "--grid", "lambda=0.5,1", "--downstream", "frozen",
                           "--probe-size", "16", "--no-feature-cache"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const auto rep = runCli({"report", dir.path("exp.h5"), "--json"});
    ASSERT_EQ(rep.exitCode, 0) << rep.err;
    const auto e = nlohmann::json::parse(rep.out);
    const auto& points = e["sweeps"][0]["points"];
    ASSERT_EQ(points.size(), 2u);
    EXPECT_EQ(e["sweeps"][0]["tasks"].size(), 6u) << rep.out.substr(0, 2000);
    for (const auto& p : points) {
        EXPECT_TRUE(p["downstream"]["mean"].is_number()) << p.dump();  // the mean over the tasks scored
        EXPECT_TRUE(p["downstream"]["per_task"]["digits-probe"].is_null()) << p.dump();
        EXPECT_TRUE(p["proxy"]["per_task"]["digits-probe"].is_number()) << p.dump();
    }
    // The merge changed the encoder (tensors renamed and q/k/v fused through the layout): λ moves the proxy.
    EXPECT_NE(points[0]["proxy"]["mean"].get<double>(), points[1]["proxy"]["mean"].get<double>());
}

}  // namespace
}  // namespace ms::test

namespace ms::test {
namespace {

TEST(ClipKit, MergeKitMergesTheVisionTowerOfAClipModelBase) {
    TempDir dir;
    const auto r = runCli({"merge", "--kit", fixture("kits/clip_tiny/kit.yaml"), "--method", "task_arithmetic", "--set", "lambda=0.5",
                           "--out", dir.path("merged.safetensors")});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const auto merged = core::model::loadParams(*core::io::openCheckpoint(dir.path("merged.safetensors")));
    const auto base = core::model::loadParams(*core::io::openCheckpoint(fixture("kits/clip_tiny/base.safetensors")));
    // The base's names and its text tower (copied); the experts came without the vision_model. prefix.
    ASSERT_TRUE(merged.count("vision_model.encoder.layers.0.self_attn.q_proj.weight"));
    ASSERT_TRUE(merged.count("text_model.embeddings.token_embedding.weight"));
    EXPECT_TRUE(merged.at("logit_scale").equal(base.at("logit_scale")));
    const std::string q = "vision_model.encoder.layers.0.self_attn.q_proj.weight";
    EXPECT_FALSE(merged.at(q).equal(base.at(q)));
    // Task arithmetic by hand: base + 0.5 · Σ (expert − base), experts read from their own files.
    const auto e0 = core::model::loadParams(*core::io::openCheckpoint(fixture("kits/clip_tiny/shapes.safetensors")));
    const auto e1 = core::model::loadParams(*core::io::openCheckpoint(fixture("kits/clip_tiny/shapes-ft.bin")));
    const std::string eq = "encoder.layers.0.self_attn.q_proj.weight";
    const at::Tensor want = base.at(q) + 0.5 * ((e0.at(eq) - base.at(q)) + (e1.at(eq) - base.at(q)));
    EXPECT_TRUE(at::allclose(merged.at(q), want, 1e-6, 1e-6));

    // A learned merge on this kit learns on the canonical encoder and writes the base's names.
    const auto l = runCli({"merge", "--kit", fixture("kits/clip_tiny/kit.yaml"), "--method", "adamerging", "--set", "steps=5", "--out",
                           dir.path("ada.safetensors")});
    ASSERT_EQ(l.exitCode, 0) << l.err;
    const auto ada = core::model::loadParams(*core::io::openCheckpoint(dir.path("ada.safetensors")));
    EXPECT_EQ(ada.at(q).sizes(), base.at(q).sizes());
    EXPECT_FALSE(ada.at(q).equal(base.at(q)));
    EXPECT_TRUE(ada.count("vision_model.embeddings.class_embedding"));
}

}  // namespace
}  // namespace ms::test
