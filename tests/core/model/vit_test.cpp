// The ViT encoder against independent PyTorch forward passes (tests/fixtures/model), gradient
// flow to supplied parameters, and zero-copy external parameters.
#include "core/model/vit.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/io/source_factory.h"
#include "core/model/param_io.h"
#include "core/model/vit_layouts.h"
#include "tests/test_support.h"

namespace ms::core::model {
namespace {

struct Case {
    VitConfig config;
    ParamMap params;
    at::Tensor input, tokens, block0;
};

Case loadCase(const std::string& name, const std::string& file = "") {
    std::ifstream in(test::fixture("model/cases.json"));
    const auto c = nlohmann::json::parse(in).at(name);
    Case out;
    out.config.imageSize = c.at("image");
    out.config.channels = c.at("channels");
    out.config.patchSize = c.at("patch");
    out.config.width = c.at("width");
    out.config.depth = c.at("depth");
    out.config.heads = c.at("heads");
    out.config.mlpRatio = c.at("mlp_ratio");
    out.config.activation = parseActivation(c.at("activation"));
    out.config.layerScale = c.at("layer_scale");
    out.config.patchBias = c.at("patch_bias");
    out.config.preNorm = c.at("pre_norm");
    out.config.eps = c.at("eps");
    const auto src = io::openCheckpoint(test::fixture(file.empty() ? "model/vit_" + name + ".safetensors" : file));
    ParamMap all = loadParams(*src);
    out.input = all.at("input");
    out.tokens = all.at("expected.tokens");
    if (all.count("expected.block0")) out.block0 = all.at("expected.block0");
    for (const char* k : {"input", "expected.tokens", "expected.block0"}) all.erase(k);
    out.params = std::move(all);
    return out;
}

class VitReference : public ::testing::TestWithParam<std::string> {};

TEST_P(VitReference, ForwardMatchesPyTorch) {
    const Case c = loadCase(GetParam());
    EXPECT_TRUE(checkParams(c.config, c.params).empty());
    ForwardOptions opts;
    opts.keepBlocks = {0};
    const VitFeatures f = vitForward(c.config, c.params, c.input, opts);
    ASSERT_EQ(f.tokens.sizes(), c.tokens.sizes());
    EXPECT_TRUE(at::allclose(f.tokens, c.tokens, 1e-4, 1e-5)) << (f.tokens - c.tokens).abs().max().item<float>();
    ASSERT_EQ(f.blocks.size(), 1u);
    EXPECT_TRUE(at::allclose(f.blocks[0], c.block0, 1e-4, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Configs, VitReference,
                         ::testing::Values("timm_gelu", "clip_like_interpolated", "dinov2_like"));

class VitLayouts : public ::testing::TestWithParam<std::string> {};

// Checkpoints in Hugging Face names, with forwards written against those names in PyTorch: the
// mapping must reproduce them (q/k/v order, reshapes, which norm is which).
TEST_P(VitLayouts, MappedCheckpointReproducesTheLayoutsOwnForward) {
    const std::string layoutText = GetParam();
    const Case c = loadCase(layoutText, "model/layout_" + layoutText + ".safetensors");
    std::vector<std::string> names;
    for (const auto& [n, t] : c.params) names.push_back(n);
    const VitLayout layout = detectLayout(names);
    EXPECT_EQ(layoutName(layout), layoutText);
    std::vector<std::string> unused;
    const ParamMap canonical = toCanonical(c.params, layout, c.config, &unused);
    EXPECT_TRUE(checkParams(c.config, canonical).empty());
    EXPECT_EQ(unused, std::vector<std::string>{layout == VitLayout::HfClip ? "vision_model.embeddings.position_ids"
                                                                         : "embeddings.mask_token"});
    const at::Tensor tokens = vitForward(c.config, canonical, c.input).tokens;
    EXPECT_TRUE(at::allclose(tokens, c.tokens, 1e-4, 1e-5)) << (tokens - c.tokens).abs().max().item<float>();
    // And back: every used tensor round-trips to its own name and value.
    const ParamMap back = fromCanonical(canonical, layout, c.config);
    EXPECT_EQ(back.size(), c.params.size() - 1);
    for (const auto& [n, t] : back) {
        ASSERT_TRUE(c.params.count(n)) << n;
        EXPECT_TRUE(at::equal(t, c.params.at(n))) << n;
    }
    // q, k and v kept apart (QkvForm::Parts, how loadEncoder holds them: views, no fused copy):
    // checked as the fused form is, the same forward to the bit, the same names and values back,
    // and fusedQkv gives the fused form again.
    const ParamMap parts = toCanonical(c.params, layout, c.config, nullptr, QkvForm::Parts);
    EXPECT_FALSE(parts.count("blocks.0.attn.qkv.weight"));
    ASSERT_TRUE(parts.count("blocks.0.attn.k.bias"));
    EXPECT_EQ(parts.at("blocks.0.attn.k.bias").data_ptr(), c.params.at(layout == VitLayout::HfClip ? "vision_model.encoder.layers.0.self_attn.k_proj.bias"
                                                                                                  : "encoder.layer.0.attention.attention.key.bias").data_ptr());
    EXPECT_TRUE(checkParams(c.config, parts).empty());
    EXPECT_TRUE(at::equal(vitForward(c.config, parts, c.input).tokens, tokens));
    const ParamMap partsBack = fromCanonical(parts, layout, c.config);
    EXPECT_EQ(partsBack.size(), back.size());
    for (const auto& [n, t] : partsBack) EXPECT_TRUE(at::equal(t, back.at(n))) << n;
    const ParamMap fused = fusedQkv(parts);
    EXPECT_EQ(fused.size(), canonical.size());
    for (const auto& [n, t] : fused) EXPECT_TRUE(canonical.count(n) && at::equal(t, canonical.at(n))) << n;
    // A part missing or of the wrong shape is named.
    ParamMap broken = parts;
    broken.erase("blocks.1.attn.v.weight");
    broken["blocks.0.attn.q.bias"] = at::zeros({3});
    const auto problems = checkParams(c.config, broken);
    std::string all;
    for (const auto& p : problems) all += p + "; ";
    EXPECT_NE(all.find("blocks.1.attn.v.weight: missing"), std::string::npos) << all;
    EXPECT_NE(all.find("blocks.0.attn.q.bias: shape"), std::string::npos) << all;
}

INSTANTIATE_TEST_SUITE_P(HuggingFace, VitLayouts, ::testing::Values("hf_clip", "hf_dinov2"));

TEST(VitLayouts, TimmIsTheCanonicalLayout) {
    const Case c = loadCase("timm_gelu");
    ParamMap withHead = c.params;
    withHead["head.weight"] = at::zeros({10, 8});
    std::vector<std::string> names, unused;
    for (const auto& [n, t] : withHead) names.push_back(n);
    EXPECT_EQ(detectLayout(names), VitLayout::Timm);
    const ParamMap canonical = toCanonical(withHead, VitLayout::Timm, c.config, &unused);
    EXPECT_EQ(canonical.size(), c.params.size());
    EXPECT_EQ(unused, std::vector<std::string>{"head.weight"});
    EXPECT_EQ(parseLayout("hf_dinov2"), VitLayout::HfDinov2);
    EXPECT_THROW(parseLayout("keras"), InvalidArgument);
}

// float32 tensors of a checkpoint are views of its mapped pages (no copy), and keep the mapping
// alive after the source is gone; other dtypes are converted into tensors of their own.
TEST(Vit, LoadedFloat32TensorsViewTheMappedFile) {
    const std::string file = test::fixture("model/layout_hf_clip.safetensors");
    const void* mapped = nullptr;
    ParamMap p;
    {
        const auto src = io::openCheckpoint(file);
        mapped = src->load("vision_model.encoder.layers.0.mlp.fc1.weight").data();
        p = loadParams(*src);
    }
    const at::Tensor& w = p.at("vision_model.encoder.layers.0.mlp.fc1.weight");
    EXPECT_EQ(static_cast<const void*>(w.data_ptr()), mapped);
    const auto again = io::openCheckpoint(file);  // the same mapping, still alive through the tensor
    EXPECT_EQ(again->load("vision_model.encoder.layers.0.mlp.fc1.weight").data(), mapped);
    const std::vector<float> values = again->loadFloat32("vision_model.encoder.layers.0.mlp.fc1.weight");
    EXPECT_TRUE(at::equal(w, at::from_blob(const_cast<float*>(values.data()), w.sizes(), at::kFloat)));
    releaseResident(p);  // drops pages only; the values are read back on use
    EXPECT_TRUE(at::equal(w, at::from_blob(const_cast<float*>(values.data()), w.sizes(), at::kFloat)));
}

TEST(Vit, GradientsReachEverySuppliedParameter) {
    Case c = loadCase("dinov2_like");
    for (auto& [name, t] : c.params) t.requires_grad_(true);
    vitForward(c.config, c.params, c.input).tokens.pow(2).sum().backward();
    for (const auto& [name, t] : c.params) {
        ASSERT_TRUE(t.grad().defined()) << name;
        EXPECT_GT(t.grad().abs().sum().item<float>(), 0.0f) << name;
    }
}

TEST(Vit, ParametersViewedWithoutCopyGiveTheSameFeatures) {
    const Case c = loadCase("timm_gelu");
    // Plain float buffers, as the merge engine produces them, viewed as tensors.
    std::map<std::string, std::vector<float>> buffers;
    ParamMap views;
    for (const auto& [name, t] : c.params) {
        auto& b = buffers[name];
        b.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
        views[name] = viewFloats(b.data(), t.sizes().vec());
        EXPECT_EQ(views[name].data_ptr<float>(), b.data()) << "must view, not copy";
    }
    EXPECT_TRUE(at::equal(vitForward(c.config, views, c.input).tokens, vitForward(c.config, c.params, c.input).tokens));
}

TEST(Vit, InitIsDeterministicAndComplete) {
    VitConfig cfg;
    cfg.width = 16;
    cfg.heads = 2;
    cfg.depth = 2;
    const ParamMap a = initVit(cfg, 5), b = initVit(cfg, 5), d = initVit(cfg, 6);
    EXPECT_TRUE(checkParams(cfg, a).empty());
    for (const auto& [name, t] : a) EXPECT_TRUE(at::equal(t, b.at(name))) << name;
    EXPECT_FALSE(at::equal(a.at("blocks.0.attn.qkv.weight"), d.at("blocks.0.attn.qkv.weight")));
    const auto x = at::rand({3, 1, 28, 28});
    EXPECT_EQ(vitForward(cfg, a, x).tokens.sizes(), (std::vector<std::int64_t>{3, 50, 16}));
}

TEST(Vit, ProblemsAreNamed) {
    Case c = loadCase("timm_gelu");
    EXPECT_THROW(vitForward(c.config, c.params, at::rand({1, 3, 8, 8})), InvalidArgument);  // channels
    EXPECT_THROW(vitForward(c.config, c.params, at::rand({1, 10, 10})), InvalidArgument);  // not [N, C, H, W]
    // (A side that is not a multiple of the patch size is padded to the grid since 0.2: heads_test.)
    c.params.erase("blocks.1.mlp.fc2.bias");
    c.params["head.weight"] = at::zeros({3, 8});
    c.params["norm.weight"] = at::zeros({7});
    const auto problems = checkParams(c.config, c.params);
    ASSERT_EQ(problems.size(), 3u);
    std::string all;
    for (const auto& p : problems) all += p + "\n";
    EXPECT_NE(all.find("norm.weight: shape [7], expected [8]"), std::string::npos) << all;
    EXPECT_NE(all.find("blocks.1.mlp.fc2.bias: missing"), std::string::npos) << all;
    EXPECT_NE(all.find("head.weight: unexpected"), std::string::npos) << all;
    try {
        vitForward(c.config, c.params, c.input);
        FAIL();
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("blocks.1.mlp.fc2.bias"), std::string::npos);
    }
}

}  // namespace
}  // namespace ms::core::model
