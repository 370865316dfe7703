// Whole pickled nn.Modules (torch.save(module), made by make_module_fixtures.py): read with the
// allow list they need, they give exactly module.state_dict()'s names, shapes and values;
// without it, one error lists every class to allow; a hostile attribute is never called.
#include "core/io/pickled_module.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/io/torch_reader.h"
#include "tests/test_support.h"

namespace ms::core::io {
namespace {

const char* const kMarker = "/tmp/mergescope-pickle-marker-SHOULD-NOT-EXIST";

// Keeps the file's key order: the order of module.state_dict().
const nlohmann::ordered_json& expected() {
    static const nlohmann::ordered_json j = [] {
        std::ifstream in(test::fixture("io/modules/expected_modules.json"));
        return nlohmann::ordered_json::parse(in);
    }();
    return j;
}

std::string fixturePath(const std::string& name) {
    return test::fixture("io/modules/" + name);
}

std::unique_ptr<TensorSource> openModule(const std::string& name,
                                         std::vector<std::string> allow = {}) {
    TorchReadOptions o;
    o.inertGlobals = std::move(allow);
    return openTorch(fixturePath(name), o);
}

std::string refusalOf(const std::string& name, std::vector<std::string> allow = {}) {
    try {
        openModule(name, std::move(allow));
    } catch (const FormatError& e) {
        return e.what();
    }
    return "(no error)";
}

// Names in order, dtypes, shapes, and the two checksums PyTorch computed in float64.
void expectStateDict(const TensorSource& src, const nlohmann::ordered_json& tensors,
                     const std::string& stripPrefix = "") {
    std::vector<std::string> want;
    for (const auto& [name, e] : tensors.items())
        if (name.rfind(stripPrefix, 0) == 0) want.push_back(name.substr(stripPrefix.size()));
    std::vector<std::string> got;
    for (const auto& t : src.tensors()) got.push_back(t.name);
    ASSERT_EQ(got, want) << src.path();
    for (const auto& name : want) {
        SCOPED_TRACE(src.path() + " : " + name);
        const auto& e = tensors.at(stripPrefix + name);
        const auto* info = src.find(name);
        EXPECT_EQ(std::string(dtypeName(info->dtype)), e.at("dtype").get<std::string>());
        EXPECT_EQ(info->shape, e.at("shape").get<std::vector<std::int64_t>>());
        const auto values = src.loadFloat32(name);
        double sum = 0, weighted = 0;
        for (std::size_t i = 0; i < values.size(); ++i) {
            sum += values[i];
            weighted += values[i] * static_cast<double>(i % 13 + 1);
        }
        // Float32 values summed in float64: only the summation order differs from PyTorch's.
        const double tol = 1e-9 * (1.0 + static_cast<double>(values.size()));
        EXPECT_NEAR(sum, e.at("sum").get<double>(), tol);
        EXPECT_NEAR(weighted, e.at("weighted_sum").get<double>(), tol);
    }
}

const std::vector<std::string> kEncoderAllow = {"src.modeling.ImageEncoder", "open_clip.*",
                                                "torchvision.transforms.*"};

TEST(TorchPickledModule, AnOpenClipImageEncoderReadsAsItsStateDict) {
    const auto src = openModule("image_encoder.pt", kEncoderAllow);
    const auto& e = expected().at("image_encoder.pt");
    expectStateDict(*src, e.at("tensors"));
    // The task-vectors release's names: MultiheadAttention's packed projection, no text tower.
    EXPECT_NE(src->find("model.visual.transformer.resblocks.1.attn.in_proj_weight"), nullptr);
    EXPECT_NE(src->find("model.visual.transformer.resblocks.0.mlp.c_fc.weight"), nullptr);
    EXPECT_EQ(src->find("model.visual.conv1.bias"), nullptr);
    EXPECT_EQ(src->find("model.attn_mask"), nullptr);  // a non-persistent buffer
    const auto& md = src->metadata();
    EXPECT_EQ(md.at("pickle.class"), "src.modeling.ImageEncoder");
    EXPECT_EQ(md.at("pickle.attr.cache_dir"), "/gscratch/efml/cache");
    EXPECT_EQ(md.at("pickle.attr.training"), "true");
    EXPECT_EQ(md.count("pickle.attr.train_preprocess"), 0u);  // not a scalar
    const std::string classes = md.at("pickle.classes");
    for (const char* c : {"open_clip.model.CLIP", "open_clip.transformer.VisionTransformer",
                          "torch.nn.modules.activation.MultiheadAttention",
                          "torchvision.transforms.transforms.Compose"})
        EXPECT_NE(classes.find(c), std::string::npos) << classes;
}

TEST(TorchPickledModule, WithoutTheAllowListOneErrorListsEveryClassAndHowToAllowIt) {
    for (const auto& [name, e] : expected().items()) {
        SCOPED_TRACE(name);
        const auto refused = e.at("refused").get<std::vector<std::string>>();
        if (refused.empty()) continue;
        const std::string m = refusalOf(name);
        EXPECT_NE(m.find(fixturePath(name)), std::string::npos) << m;
        for (const auto& c : refused) {
            EXPECT_NE(m.find("'" + c + "'"), std::string::npos) << c << " in " << m;
            EXPECT_NE(m.find("--pickle-allow " + c), std::string::npos) << c << " in " << m;
        }
        EXPECT_NE(m.find("pickle_allow: ["), std::string::npos) << m;
        EXPECT_EQ(m.find("torch.nn.modules"), std::string::npos) << "PyTorch's own: " << m;
    }
}

TEST(TorchPickledModule, GlobsAllowWholeModulesAndTheRestIsStillListed) {
    const std::string m = refusalOf("image_encoder.pt", {"src.*", "open_clip.*"});
    EXPECT_NE(m.find("refused globals 'torchvision.transforms.transforms.CenterCrop', "
                     "'torchvision.transforms.transforms.Compose', "
                     "'torchvision.transforms.transforms.Resize'"),
              std::string::npos)
        << m;
    EXPECT_EQ(m.find("open_clip"), std::string::npos) << m;
    EXPECT_NO_THROW(openModule("image_encoder.pt", {"src.*", "open_clip.*", "torchvision.*"}));
    EXPECT_NO_THROW(openModule("image_encoder.pt", {"*"}));
}

TEST(TorchPickledModule, AClassificationHeadKeepsItsClassAndAttributes) {
    const auto src = openModule("classification_head.pt", {"src.heads.ClassificationHead"});
    expectStateDict(*src, expected().at("classification_head.pt").at("tensors"));
    const auto& md = src->metadata();
    EXPECT_EQ(md.at("pickle.class"), "src.heads.ClassificationHead");
    EXPECT_EQ(md.at("pickle.attr.normalize"), "true");
    EXPECT_EQ(md.at("pickle.attr.in_features"), "32");
    EXPECT_EQ(md.at("pickle.attr.out_features"), "5");
    EXPECT_EQ(md.at("pickle.classes"), "src.heads.ClassificationHead");
}

TEST(TorchPickledModule, PyTorchsOwnModulesNeedNoOption) {
    const auto src = openModule("linear.pt");
    expectStateDict(*src, expected().at("linear.pt").at("tensors"));
    EXPECT_EQ(src->metadata().at("pickle.class"), "torch.nn.modules.linear.Linear");
}

TEST(TorchPickledModule, AHostileAttributeIsReadButNeverCalled) {
    std::filesystem::remove(kMarker);
    const std::string m = refusalOf("trojan.pt");
    EXPECT_NE(m.find("refused globals 'evil.payload.Trojan', 'posix.system'"), std::string::npos)
        << m;
    const auto src = openModule("trojan.pt", {"*"});
    expectStateDict(*src, expected().at("trojan.pt").at("tensors"));
    for (const auto& t : src->tensors()) (void)src->load(t.name);
    EXPECT_NE(src->metadata().at("pickle.classes").find("posix.system"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(kMarker));
}

TEST(TorchPickledModule, AModuleInsideACheckpointDictIsFoundUnderItsKey) {
    const auto src = openModule("checkpoint_with_module.pt", {"src.heads.*"});
    expectStateDict(*src, expected().at("checkpoint_with_module.pt").at("tensors"));
    EXPECT_EQ(src->metadata().at("pytorch.state_dict_key"), "model");
    EXPECT_EQ(src->metadata().at("checkpoint.epoch"), "2");
    EXPECT_EQ(src->metadata().at("pickle.attr.normalize"), "false");
}

TEST(TorchPickledModule, AKeySelectsASubmodule) {
    TorchReadOptions o;
    o.inertGlobals = kEncoderAllow;
    o.key = "model.visual";
    const auto src = openTorch(fixturePath("image_encoder.pt"), o);
    expectStateDict(*src, expected().at("image_encoder.pt").at("tensors"), "model.visual.");
    EXPECT_EQ(src->metadata().at("pickle.class"), "open_clip.transformer.VisionTransformer");
    EXPECT_EQ(src->metadata().at("pickle.attr.output_dim"), "32");
}

}  // namespace
}  // namespace ms::core::io
