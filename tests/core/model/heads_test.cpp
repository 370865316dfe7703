// Heads: pooling, and where the dense head puts each patch's outputs.
#include "core/model/heads.h"

#include <gtest/gtest.h>

namespace ms::core::model {
namespace {

TEST(Heads, ClassifierPoolsTheClassTokenOrThePatchMean) {
    // tokens [1, 3, 2]: class token (1, 0), patches (2, 4) and (4, 8).
    const at::Tensor tokens = at::tensor({1.f, 0.f, 2.f, 4.f, 4.f, 8.f}).reshape({1, 3, 2});
    ParamMap p = {{"head.weight", at::tensor({1.f, 0.f, 0.f, 1.f}).reshape({2, 2})}, {"head.bias", at::zeros({2})}};
    HeadConfig h;
    h.outputs = 2;
    EXPECT_TRUE(at::equal(headForward(h, p, tokens), at::tensor({1.f, 0.f}).reshape({1, 2})));
    h.pooling = Pooling::MeanPatches;
    EXPECT_TRUE(at::equal(headForward(h, p, tokens), at::tensor({3.f, 6.f}).reshape({1, 2})));
}

TEST(Heads, DensePutsEachPatchBlockInPlace) {
    // A 2×2 grid of patches of 3×3 pixels, 2 output channels. Token value = patch index; the head
    // maps it to channel k, pixel (py, px) as index + 10·k + 0.01·(3·py + px) (bias).
    const int p = 3, K = 2;
    at::Tensor tokens = at::zeros({1, 5, 1});
    for (int i = 0; i < 4; ++i) tokens[0][1 + i][0] = static_cast<float>(i);
    at::Tensor w = at::ones({K * p * p, 1}), b = at::zeros({K * p * p});
    for (int k = 0; k < K; ++k)
        for (int q = 0; q < p * p; ++q) b[k * p * p + q] = 10.0f * k + 0.01f * q;
    HeadConfig h;
    h.kind = HeadKind::Dense;
    h.outputs = K;
    h.patchSize = p;
    const at::Tensor out = headForward(h, {{"head.weight", w}, {"head.bias", b}}, tokens);
    ASSERT_EQ(out.sizes(), (std::vector<std::int64_t>{1, K, 6, 6}));
    for (int k = 0; k < K; ++k)
        for (int y = 0; y < 6; ++y)
            for (int x = 0; x < 6; ++x) {
                const float want = static_cast<float>((y / p) * 2 + x / p) + 10.0f * k + 0.01f * static_cast<float>((y % p) * p + x % p);
                EXPECT_NEAR(out[0][k][y][x].item<float>(), want, 1e-6) << k << "," << y << "," << x;
            }
}

TEST(Heads, InitShapes) {
    HeadConfig h;
    h.kind = HeadKind::Dense;
    h.outputs = 2;
    h.patchSize = 4;
    const ParamMap p = initHead(h, 16, 1);
    EXPECT_EQ(p.at("head.weight").sizes(), (std::vector<std::int64_t>{32, 16}));
    EXPECT_EQ(parseHeadKind("dense"), HeadKind::Dense);
    EXPECT_EQ(parsePooling("mean"), Pooling::MeanPatches);
}

}  // namespace
}  // namespace ms::core::model
