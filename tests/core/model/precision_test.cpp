// bf16 encoder forwards: float32 features back, close to fp32's; training and RegMean's hooks stay
// float32 exactly; the choice and its names.
#include "core/model/precision.h"

#include <gtest/gtest.h>

#include <ATen/core/grad_mode.h>

#include "core/errors.h"
#include "core/io/source_factory.h"
#include "core/model/param_io.h"
#include "core/model/vit.h"
#include "tests/test_support.h"

namespace ms::core::model {
namespace {

struct RestorePrecision {
    ~RestorePrecision() { setEncoderPrecision(Precision::Fp32); }
};

TEST(Precision, Bf16ForwardsGiveFloat32FeaturesCloseToFp32AndTrainingStaysFp32) {
    RestorePrecision restore;
    ParamMap p = loadParams(*io::openCheckpoint(test::fixture("model/layout_torchvision_timm.safetensors")));
    VitConfig c;
    c.imageSize = 8;
    c.channels = 3;
    c.patchSize = 4;
    c.width = 8;
    c.depth = 2;
    c.heads = 2;
    c.mlpRatio = 2.0;
    const at::Tensor x = at::rand({4, 3, 8, 8});
    at::NoGradGuard noGrad;
    const at::Tensor fp32 = vitForward(c, p, x).tokens;
    setEncoderPrecision(Precision::Bf16);
    EXPECT_EQ(encoderPrecision(), Precision::Bf16);
    const at::Tensor bf16 = vitForward(c, p, x).tokens;
    EXPECT_EQ(bf16.scalar_type(), at::kFloat);
    EXPECT_FALSE(at::equal(bf16, fp32));
    EXPECT_LT((bf16 - fp32).abs().max().item<float>(), 0.1f);  // bfloat16 keeps 8 bits of mantissa; tokens are LayerNormed
    // A forward that trains, or one whose linear inputs are read (RegMean), stays float32, exactly.
    {
        at::AutoGradMode grad(true);
        ParamMap leaves = p;
        for (auto& [n, t] : leaves) t = t.detach().requires_grad_(true);
        EXPECT_TRUE(at::equal(vitForward(c, leaves, x).tokens.detach(), fp32));
    }
    int seen = 0;
    const LinearInputFn hook = [&](const std::string&, const at::Tensor& in) { seen += in.scalar_type() == at::kFloat; };
    ForwardOptions o;
    o.linearInputs = &hook;
    EXPECT_TRUE(at::equal(vitForward(c, p, x, o).tokens, fp32));
    EXPECT_EQ(seen, 8);
    setEncoderPrecision(Precision::Fp32);
    EXPECT_TRUE(at::equal(vitForward(c, p, x).tokens, fp32));
}

TEST(Precision, NamesAndAuto) {
    RestorePrecision restore;
    EXPECT_EQ(parsePrecision("bf16"), Precision::Bf16);
    EXPECT_EQ(precisionName(Precision::Auto), "auto");
    EXPECT_THROW(parsePrecision("fp16"), InvalidArgument);
    const PrecisionChoice c = setEncoderPrecision(Precision::Auto);
    EXPECT_NE(c.precision, Precision::Auto);
    EXPECT_EQ(c.precision == Precision::Bf16, bf16Speedup() > 1.2) << c.note;
    EXPECT_NE(c.note.find("auto: "), std::string::npos);
}

}  // namespace
}  // namespace ms::core::model
