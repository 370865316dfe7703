// The open_clip and torchvision layouts against their own PyTorch forwards and against the same
// weights in timm's names (tests/fixtures/model/make_layout_fixtures.py: open_clip's module names
// and semantics written out, torchvision's VisionTransformer itself).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/io/source_factory.h"
#include "core/model/encoder_weights.h"
#include "core/model/heads.h"
#include "core/model/param_io.h"
#include "tests/test_support.h"

namespace ms::core::model {
namespace {

namespace fs = std::filesystem;

ParamMap fixture(const std::string& name) { return loadParams(*io::openCheckpoint(test::fixture("model/" + name))); }

float maxDiff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<float>(); }

TEST(OpenClipLayout, VisualTowerIsFoundBesideTheTextTowerAndReproducesItsForward) {
    const std::string file = test::fixture("model/layout_open_clip.safetensors");
    EXPECT_THROW(loadEncoder(file, "auto", {}), FormatError);  // width 16: the heads are not implied
    const Encoder e = loadEncoder(file, "auto", {{"heads", "2"}});
    EXPECT_EQ(e.found.layout, VitLayout::OpenClip);
    EXPECT_EQ(e.found.prefix, "visual.");  // not the text tower's transformer.resblocks at the top level
    EXPECT_EQ(e.config.width, 16);
    EXPECT_EQ(e.config.depth, 2);
    EXPECT_EQ(e.config.patchSize, 4);
    EXPECT_EQ(e.config.imageSize, 16);
    EXPECT_EQ(e.config.projection, 12);
    EXPECT_TRUE(e.config.preNorm);
    EXPECT_FALSE(e.config.patchBias);
    EXPECT_EQ(e.config.activation, Activation::QuickGelu);  // OpenAI's weights
    EXPECT_DOUBLE_EQ(e.config.eps, 1e-5);
    const VitConfig& config = e.config;
    const ParamMap all = fixture("layout_open_clip.safetensors");
    const VitFeatures f = vitForward(config, e.params, all.at("input"));
    EXPECT_LT(maxDiff(f.tokens, all.at("expected.tokens")), 1e-5);
    ASSERT_TRUE(f.embedding.defined());
    EXPECT_LT(maxDiff(f.embedding, all.at("expected.embedding")), 1e-5);
}

TEST(OpenClipLayout, SameFeaturesAsTheSameWeightsInTimmNamesAndNamesRoundTrip) {
    const std::string file = test::fixture("model/layout_open_clip.safetensors");
    const std::map<std::string, std::string> heads = {{"heads", "2"}};
    const Encoder oc = loadEncoder(file, "auto", heads);
    const Encoder timm = loadEncoder(test::fixture("model/layout_open_clip_timm.safetensors"), "timm", {}, &oc.config);
    ASSERT_EQ(oc.params.size(), timm.params.size());
    for (const auto& [n, t] : timm.params) {
        ASSERT_TRUE(oc.params.count(n)) << n;
        EXPECT_TRUE(at::equal(oc.params.at(n).contiguous(), t)) << n;
    }
    const at::Tensor x = fixture("layout_open_clip.safetensors").at("input");
    EXPECT_LT(maxDiff(vitForward(oc.config, oc.params, x).tokens, vitForward(oc.config, timm.params, x).tokens), 1e-5);
    // Back to the file's own names and shapes (a merge saved in the base's layout).
    const ParamMap raw = fixture("layout_open_clip.safetensors");
    const ParamMap back = toFileNames(oc.params, oc.found, oc.config);
    EXPECT_EQ(back.size(), 5u + 12u * 2u + 3u);  // embeddings, conv1, ln_pre, 12 per block, ln_post and proj
    for (const auto& [n, t] : back) {
        ASSERT_TRUE(raw.count(n)) << n;
        EXPECT_TRUE(at::equal(t.contiguous(), raw.at(n))) << n;
    }
}

TEST(OpenClipLayout, AnyPrefixAndOpenClipConfigChooseTheActivation) {
    // model.visual. (the task-vectors release's ImageEncoder), module.visual., or the tower alone.
    const ParamMap raw = fixture("layout_open_clip.safetensors");
    const test::TempDir tmp;
    const fs::path dir = tmp.dir();
    for (const std::string prefix : {"model.visual.", "module.visual.", ""}) {
        ParamMap renamed;
        for (const auto& [n, t] : raw)
            if (n.starts_with("visual.")) renamed[prefix + n.substr(7)] = t;
        const std::string file = (dir / ("w" + std::to_string(prefix.size()) + ".safetensors")).string();
        writeParams(file, renamed, {});
        const Encoder e = loadEncoder(file, "auto", {{"heads", "2"}});
        EXPECT_EQ(e.found.prefix, prefix);
        EXPECT_EQ(e.found.layout, VitLayout::OpenClip);
    }
    // open_clip's own LAION models: GELU, from open_clip_config.json beside the weights.
    std::ofstream(dir / "open_clip_config.json") << R"({"model_cfg": {"embed_dim": 12, "quick_gelu": false,
        "vision_cfg": {"image_size": 16, "layers": 2, "width": 16, "patch_size": 4, "head_width": 8}}})";
    const Encoder gelu = loadEncoder((dir / "w0.safetensors").string(), "auto", {});
    EXPECT_EQ(gelu.config.activation, Activation::Gelu);
    EXPECT_EQ(gelu.config.heads, 2);
    std::ofstream(dir / "open_clip_config.json") << R"({"model_cfg": {"vision_cfg": {"width": 16, "head_width": 5}}})";
    EXPECT_THROW(loadEncoder((dir / "w0.safetensors").string(), "auto", {}), FormatError);
    // A block part the encoder does not run (open_clip's scale_attn LayerNorm) is refused by name, not dropped.
    fs::remove(dir / "open_clip_config.json");
    ParamMap extra;
    for (const auto& [n, t] : raw)
        if (n.starts_with("visual.")) extra[n] = t;
    extra["visual.transformer.resblocks.1.ln_attn.weight"] = at::ones({16});
    writeParams((dir / "extra.safetensors").string(), extra, {});
    try {
        loadEncoder((dir / "extra.safetensors").string(), "auto", {{"heads", "2"}});
        FAIL();
    } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find("visual.transformer.resblocks.1.ln_attn.weight"), std::string::npos) << e.what();
    }
}

TEST(OpenClipLayout, AWholePickledImageEncoderStatesItsHeadsAndActivation) {
    io::OpenOptions open;
    open.torch.inertGlobals = {"src.*", "open_clip.*", "torchvision.*"};
    const Encoder e = loadEncoder(test::fixture("io/modules/image_encoder.pt"), "auto", {}, nullptr, open);
    EXPECT_EQ(e.found.layout, VitLayout::OpenClip);
    EXPECT_EQ(e.found.prefix, "model.visual.");
    EXPECT_EQ(e.config.heads, 4);  // the shapes alone would say 64 / 64 = 1
    EXPECT_EQ(e.config.activation, Activation::Gelu);
    EXPECT_DOUBLE_EQ(e.config.eps, 1e-5);
    EXPECT_EQ(e.config.projection, 32);
    EXPECT_THROW(loadEncoder(test::fixture("io/modules/image_encoder.pt"), "auto", {}), FormatError);  // not allowed
}

TEST(TorchvisionLayout, ReproducesTorchvisionsVisionTransformerAndItsHead) {
    const ParamMap all = fixture("layout_torchvision.safetensors");
    const Encoder e = loadEncoder(test::fixture("model/layout_torchvision.safetensors"), "auto", {{"heads", "2"}});
    EXPECT_EQ(e.found.layout, VitLayout::Torchvision);
    EXPECT_EQ(e.found.prefix, "");
    EXPECT_TRUE(e.config.patchBias);
    EXPECT_FALSE(e.config.preNorm);
    EXPECT_EQ(e.config.activation, Activation::Gelu);
    EXPECT_DOUBLE_EQ(e.config.eps, 1e-6);
    EXPECT_EQ(e.config.projection, 0);
    const VitFeatures f = vitForward(e.config, e.params, all.at("input"));
    EXPECT_LT(maxDiff(f.tokens, all.at("expected.tokens")), 1e-5);
    ASSERT_FALSE(e.head.empty());  // heads.head.*
    HeadConfig head;
    head.outputs = 3;
    EXPECT_LT(maxDiff(headForward(head, e.head, f.tokens), all.at("expected.logits")), 1e-5);

    const Encoder timm = loadEncoder(test::fixture("model/layout_torchvision_timm.safetensors"), "timm", {}, &e.config);
    EXPECT_LT(maxDiff(vitForward(e.config, timm.params, all.at("input")).tokens, f.tokens), 1e-5);
    const ParamMap back = toFileNames(e.params, e.found, e.config);
    for (const auto& [n, t] : back) {
        ASSERT_TRUE(all.count(n)) << n;
        EXPECT_TRUE(at::equal(t, all.at(n))) << n;
    }
    EXPECT_EQ(back.size() + 2u + 3u, all.size());  // + heads.head.{weight,bias}, input and two expectations
}

TEST(Layouts, NamesAndDetection) {
    EXPECT_EQ(parseLayout("open_clip"), VitLayout::OpenClip);
    EXPECT_EQ(parseLayout("torchvision"), VitLayout::Torchvision);
    try {
        parseLayout("keras");
        FAIL();
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("open_clip, torchvision"), std::string::npos) << e.what();
    }
    // A ResNet's conv1.weight is not an open_clip ViT: the companion class_embedding is missing.
    EXPECT_THROW(findLayoutInNames({"layer1.0.conv1.weight", "conv1.weight", "fc.weight"}, "auto", "resnet.pt"), FormatError);
}

}  // namespace
}  // namespace ms::core::model
