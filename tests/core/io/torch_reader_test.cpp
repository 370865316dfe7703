// PyTorch zip checkpoints written by Debian's torch.save: state dicts, nested training
// checkpoints, every dtype, strided views.
#include "core/io/torch_reader.h"

#include <gtest/gtest.h>

#include "core/errors.h"
#include "core/io/source_factory.h"
#include "tests/core/io/expected_tensors.h"
#include "tests/test_support.h"

namespace ms::core::io {
namespace {

TEST(TorchReader, ReadsAPlainModuleStateDict) {
    const auto src = openCheckpoint(test::fixture("io/module_state_dict.pt"));
    EXPECT_EQ(src->format(), "pytorch");
    test::expectMatchesFixture(*src, test::expectedIo().at("module_state_dict.pt"));
    // Module order is kept (an OrderedDict), not sorted.
    EXPECT_EQ(src->tensors().front().name, "cls_token");
    EXPECT_EQ(src->metadata().at("pytorch.format_version"), "3");
}

TEST(TorchReader, FindsWeightsNestedInATrainingCheckpoint) {
    const auto src = openCheckpoint(test::fixture("io/training_checkpoint.ckpt"));
    test::expectMatchesFixture(*src, test::expectedIo().at("training_checkpoint.ckpt"));
    EXPECT_EQ(src->metadata().at("pytorch.state_dict_key"), "state_dict");
    EXPECT_EQ(src->metadata().at("checkpoint.epoch"), "3");
    EXPECT_EQ(src->metadata().at("checkpoint.arch"), "tiny_vit");
}

TEST(TorchReader, AnExplicitKeySelectsAnotherPartOfTheCheckpoint) {
    TorchReadOptions o;
    o.key = "optimizer.state";
    const auto src = openTorch(test::fixture("io/training_checkpoint.ckpt"), o);
    // AdamW keeps exp_avg and exp_avg_sq per parameter index, only for parameters that had a
    // gradient: qkv (5, 6) and head (11, 12) in the fixture.
    EXPECT_NE(src->find("5.exp_avg"), nullptr);
    EXPECT_NE(src->find("12.exp_avg_sq"), nullptr);
    EXPECT_EQ(src->find("0.exp_avg"), nullptr);
    EXPECT_EQ(src->tensors().size(), 12u);
    EXPECT_EQ(src->metadata().at("pytorch.state_dict_key"), "optimizer.state");
}

TEST(TorchReader, AMissingKeyListsTheTopLevelKeys) {
    TorchReadOptions o;
    o.key = "ema";
    try {
        openTorch(test::fixture("io/training_checkpoint.ckpt"), o);
        FAIL();
    } catch (const FormatError& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("key 'ema' not found"), std::string::npos) << m;
        EXPECT_NE(m.find("state_dict"), std::string::npos) << m;
        EXPECT_NE(m.find("training_checkpoint.ckpt"), std::string::npos) << m;
    }
}

TEST(TorchReader, EveryDtypeAndStridedViewsMatchPyTorch) {
    const auto src = openCheckpoint(test::fixture("io/all_dtypes.pt"));
    // Includes bf16/f16, bool, a scalar, an empty tensor, a transposed view and a slice that
    // shares its storage at an offset: values are compared in logical (row-major) order.
    test::expectMatchesFixture(*src, test::expectedIo().at("all_dtypes.pt"));
    EXPECT_TRUE(src->load("f32").isView());
    EXPECT_FALSE(src->load("transposed").isView());  // gathered
}

}  // namespace
}  // namespace ms::core::io
