// Heads: pooling, and where the dense head puts each patch's outputs.
#include "core/model/heads.h"

#include <gtest/gtest.h>

#include "core/data/npy.h"
#include "core/errors.h"
#include "core/model/vit.h"
#include "tests/test_support.h"

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

at::Tensor probeFixture(const std::string& name) {
    const data::NpyArray a = data::readNpy(test::fixture("metrics/probe_" + name + ".npy"));
    return at::from_blob(const_cast<float*>(a.values.data()), a.shape, at::kFloat).clone();
}

// DINOv2's dense probe against numpy (tests/fixtures/metrics/make_probe_fixture.py): batch norm
// with running statistics (eval) or the batch's, updating the running ones (training), a 1×1
// map, bilinear upsampling as PyTorch's align_corners=False.
TEST(Heads, DenseProbeMatchesNumpyInEvalAndTraining) {
    HeadConfig h;
    h.kind = HeadKind::DenseProbe;
    h.outputs = 4;
    h.patchSize = 5;
    ParamMap params = {{"head.bn.weight", probeFixture("bn_weight")},   {"head.bn.bias", probeFixture("bn_bias")},
                       {"head.bn.running_mean", probeFixture("running_mean")}, {"head.bn.running_var", probeFixture("running_var")},
                       {"head.weight", probeFixture("weight")},          {"head.bias", probeFixture("bias")}};
    const at::Tensor tokens = probeFixture("tokens");
    const at::Tensor eval = headForward(h, params, tokens);
    ASSERT_EQ(eval.sizes(), (std::vector<std::int64_t>{2, 4, 15, 15}));
    EXPECT_TRUE(at::allclose(eval, probeFixture("eval_out"), 1e-4, 1e-5)) << (eval - probeFixture("eval_out")).abs().max();
    const at::Tensor train = headForward(h, params, tokens, true);
    EXPECT_TRUE(at::allclose(train, probeFixture("train_out"), 1e-4, 1e-5)) << (train - probeFixture("train_out")).abs().max();
    EXPECT_TRUE(at::allclose(params.at("head.bn.running_mean"), probeFixture("train_running_mean"), 1e-5, 1e-6));
    EXPECT_TRUE(at::allclose(params.at("head.bn.running_var"), probeFixture("train_running_var"), 1e-5, 1e-6));
    // Initialised as the identity batch norm over L·D features.
    h.layers = {-2, -1};
    const ParamMap init = initHead(h, 8, 1);
    EXPECT_EQ(init.at("head.weight").sizes(), (std::vector<std::int64_t>{4, 16}));
    EXPECT_TRUE(init.at("head.bn.running_var").equal(at::ones({16})));
}

// A random encoder of `depth` blocks on 8×8 one-channel images, patch 4, width 8; sets `c`.
ParamMap tinyEncoder(kit::VitConfig& c, int depth, std::uint64_t seed) {
    c.imageSize = 8;
    c.channels = 1;
    c.patchSize = 4;
    c.width = 8;
    c.depth = depth;
    c.heads = 2;
    ParamMap enc;
    at::manual_seed(seed);
    for (const auto& [name, shape] : vitParamShapes(c)) enc[name] = at::randn(shape) * 0.1;
    return enc;
}

// A head reading blocks gets their tokens through the final LayerNorm, concatenated: the last
// block so normalised is the encoder's output itself; two blocks double the width.
TEST(Heads, BlocksAreReadNormalisedAndConcatenated) {
    kit::VitConfig c;
    const ParamMap enc = tinyEncoder(c, 3, 5);
    HeadConfig h;
    h.kind = HeadKind::DenseProbe;
    h.layers = {-1};
    ForwardOptions o;
    requestHeadBlocks(o, h, c.depth);
    EXPECT_EQ(o.keepBlocks, (std::vector<int>{2}));
    const VitFeatures f = vitForward(c, enc, at::randn({2, 1, 8, 8}), o);
    EXPECT_TRUE(at::allclose(headTokens(h, f, c.depth), f.tokens));
    h.layers = {0, -1};
    ForwardOptions two;
    requestHeadBlocks(two, h, c.depth);
    const VitFeatures g = vitForward(c, enc, at::randn({2, 1, 8, 8}), two);
    const at::Tensor t = headTokens(h, g, c.depth);
    EXPECT_EQ(t.sizes(), (std::vector<std::int64_t>{2, 5, 16}));
    EXPECT_TRUE(at::allclose(t.narrow(2, 8, 8), g.tokens));
    h.layers = {3};
    EXPECT_THROW(headBlocks(h, c.depth), InvalidArgument);
}

// Any input size: a rectangular grid of patches (position embeddings interpolated to it), and a
// side that is not a multiple of the patch size padded with zeros to the grid — the same as
// padding the images explicitly — with the dense heads' output cropped back to the input.
TEST(Heads, RectangularAndPaddedInputsGiveOutputsOfTheInputsSize) {
    kit::VitConfig c;
    const ParamMap enc = tinyEncoder(c, 2, 7);
    const at::Tensor images = at::randn({2, 1, 10, 13});  // → a 3×4 grid, padded to 12×16
    const VitFeatures f = vitForward(c, enc, images);
    EXPECT_EQ(f.tokens.size(1), 1 + 3 * 4);
    EXPECT_EQ(f.height, 10);
    EXPECT_EQ(f.width, 13);
    const VitFeatures padded = vitForward(c, enc, at::constant_pad_nd(images, {0, 3, 0, 2}, 0.0));
    EXPECT_TRUE(at::allclose(f.tokens, padded.tokens, 1e-5, 1e-6));
    for (HeadKind kind : {HeadKind::Dense, HeadKind::DenseProbe}) {
        HeadConfig h;
        h.kind = kind;
        h.outputs = 3;
        h.patchSize = 4;
        const ParamMap head = initHead(h, c.width, 2);
        const at::Tensor out = headForward(h, head, f.tokens, false, f.height, f.width);
        EXPECT_EQ(out.sizes(), (std::vector<std::int64_t>{2, 3, 10, 13})) << headKindName(kind);
        const at::Tensor full = headForward(h, head, padded.tokens, false, 12, 16);
        EXPECT_TRUE(at::allclose(out, full.narrow(2, 0, 10).narrow(3, 0, 13), 1e-5, 1e-6)) << headKindName(kind);
        EXPECT_THROW(headForward(h, head, f.tokens, false, 16, 16), InvalidArgument) << "12 tokens are not a 4×4 grid";
    }
    // A rectangular grid's position embeddings: the square interpolation when the grid is square.
    const at::Tensor pos = at::randn({1, 1 + 4, 8});
    EXPECT_TRUE(resizePosEmbed(pos, 3, 3).equal(resizePosEmbed(pos, 3)));
    EXPECT_EQ(resizePosEmbed(pos, 3, 4).sizes(), (std::vector<std::int64_t>{1, 13, 8}));
}

}  // namespace
}  // namespace ms::core::model
