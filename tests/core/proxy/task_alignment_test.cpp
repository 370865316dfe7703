// The task alignment proxy: its fixed points (expert → 1, base → 0), each similarity checked
// against an independent computation, CKA's invariances, the feature cache, weight-space.
#include "core/proxy/task_alignment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/errors.h"
#include "core/model/heads.h"
#include "tests/core/eval/reduced_kit.h"
#include "tests/test_support.h"

namespace ms::core::proxy {
namespace {

std::vector<ProxyVariant> allVariants() {
    std::vector<ProxyVariant> v;
    for (const char* n : {"task-alignment", "cls-cosine", "mean-cosine", "tokens-cka", "mean-cka", "tokens-cosine@1", "weight-space"})
        v.push_back(parseProxyVariant(n));
    return v;
}

TEST(TaskAlignment, VariantNamesParse) {
    EXPECT_EQ(parseProxyVariant("tokens-cosine").name, "task-alignment");
    const ProxyVariant v = parseProxyVariant("mean-cka@2");
    EXPECT_EQ(v.features, Features::MeanPatches);
    EXPECT_EQ(v.similarity, Similarity::LinearCka);
    EXPECT_EQ(v.block, 2);
    EXPECT_TRUE(parseProxyVariant("weight-space").weightSpace);
    for (const char* bad : {"tokens", "foo-cosine", "cls-l2", "cls-cosine@", "cls-cosine@x", ""})
        EXPECT_THROW(parseProxyVariant(bad), InvalidArgument) << bad;
}

TEST(TaskAlignment, CosineMatchesALoopOverTokens) {
    const at::Tensor a = at::randn({3, 5, 4}, at::kFloat), b = at::randn({3, 5, 4}, at::kFloat);
    double sum = 0;
    for (int n = 0; n < 3; ++n)
        for (int j = 0; j < 5; ++j) {
            double dot = 0, na = 0, nb = 0;
            for (int d = 0; d < 4; ++d) {
                const double x = a[n][j][d].item<float>(), y = b[n][j][d].item<float>();
                dot += x * y, na += x * x, nb += y * y;
            }
            sum += dot / std::sqrt(na * nb);
        }
    EXPECT_NEAR(featureSimilarity(a, b, Features::Tokens, Similarity::Cosine), sum / 15, 1e-6);
    // Class token only: row 0 of each image.
    double cls = 0;
    for (int n = 0; n < 3; ++n) cls += at::cosine_similarity(a[n][0], b[n][0], 0).item<double>();
    EXPECT_NEAR(featureSimilarity(a, b, Features::ClassToken, Similarity::Cosine), cls / 3, 1e-6);
}

TEST(TaskAlignment, LinearCkaInvariancesAndAHandWorkedValue) {
    at::manual_seed(3);
    const at::Tensor x = at::randn({40, 6}, at::kDouble);
    const at::Tensor q = std::get<0>(at::linalg_qr(at::randn({6, 6}, at::kDouble)));  // orthogonal
    EXPECT_NEAR(linearCka(x, x), 1.0, 1e-12);
    EXPECT_NEAR(linearCka(x, at::matmul(x, q)), 1.0, 1e-10);      // rotation
    EXPECT_NEAR(linearCka(x, 3.5 * x + 2.0), 1.0, 1e-12);         // isotropic scale, shift
    const at::Tensor y = at::randn({40, 3}, at::kDouble);
    EXPECT_NEAR(linearCka(x, y), linearCka(y, x), 1e-12);          // symmetric
    EXPECT_LT(linearCka(x, y), 0.9);
    // Hand-worked: x = (1, 2, 3), y = (1, 3, 2) as columns: centred x = (−1, 0, 1), y = (−1, 1, 0);
    // (xᵀy)² = 1, xᵀx = 2, yᵀy = 2 → CKA = 1/4.
    EXPECT_NEAR(linearCka(at::tensor({1.0, 2.0, 3.0}).reshape({3, 1}), at::tensor({1.0, 3.0, 2.0}).reshape({3, 1})), 0.25, 1e-12);
}

TEST(TaskAlignment, ExpertScoresOneBaseScoresZero) {
    const eval::TaskSuite& suite = test::reducedSuite();
    const TaskAlignmentProxy proxy(suite, allVariants(), "");
    const std::size_t T = suite.tasks.size();
    const ProxyScores atBase = proxy.score(suite.base);
    for (const auto& [name, values] : atBase)
        for (std::size_t t = 0; t < T; ++t) EXPECT_NEAR(values[t], 0.0, 1e-6) << name << " task " << t;
    for (std::size_t t = 0; t < T; ++t) {
        const ProxyScores atExpert = proxy.score(suite.experts[t]);
        for (const auto& [name, values] : atExpert) EXPECT_NEAR(values[t], 1.0, 1e-6) << name << " task " << t;
        // Raw alignment of the expert with itself is exactly the similarity's maximum.
        EXPECT_NEAR(proxy.rawAlignment(std::vector<const model::ParamMap*>(T, &suite.experts[t])).at("task-alignment")[t], 1.0, 1e-6);
    }
    // The base is not the expert: there is a gap to close.
    for (std::size_t t = 0; t < T; ++t) EXPECT_LT(proxy.baseAlignment().at("task-alignment")[t], 0.9999);
}

// @heads: per task, the blocks its head reads (through the final LayerNorm, concatenated). A head
// without layers reads the final tokens, and so does one reading the last block (the final
// tokens are its normalised output); one reading two blocks gives what a direct computation of
// the same features gives.
TEST(TaskAlignment, HeadsVariantReadsTheBlocksEachHeadReads) {
    EXPECT_TRUE(parseProxyVariant("tokens-cosine@heads").headBlocks);
    EXPECT_EQ(parseProxyVariant("tokens-cosine@heads").name, "tokens-cosine@heads");
    eval::TaskSuite suite = test::reducedSuite();
    for (auto& t : suite.tasks) t.headConfig.layers.clear();  // every head on the final tokens (the demo's dense ones read four blocks)
    const std::vector<ProxyVariant> variants = {parseProxyVariant("task-alignment"), parseProxyVariant("tokens-cosine@heads")};
    model::ParamMap merged;
    for (const auto& [n, b] : suite.base) merged[n] = (suite.experts[0].at(n) + suite.experts[1].at(n)) / 2;
    {
        const ProxyScores s = TaskAlignmentProxy(suite, variants, "").score(merged);
        for (std::size_t t = 0; t < suite.tasks.size(); ++t) EXPECT_DOUBLE_EQ(s.at("tokens-cosine@heads")[t], s.at("task-alignment")[t]);
    }
    suite.tasks[0].headConfig.layers = {-1};
    suite.tasks[1].headConfig.layers = {-2, -1};
    const ProxyScores s = TaskAlignmentProxy(suite, variants, "").score(merged);
    EXPECT_NEAR(s.at("tokens-cosine@heads")[0], s.at("task-alignment")[0], 1e-6);
    const auto& h = suite.tasks[1].headConfig;
    const int depth = suite.config().depth;
    model::ForwardOptions keep;
    model::requestHeadBlocks(keep, h, depth);
    const auto feats = [&](const model::ParamMap& enc) {
        return model::headTokens(h, eval::encodeSet(suite.config(), enc, *suite.tasks[1].probe, keep), depth);
    };
    const auto cosine = [](const at::Tensor& a, const at::Tensor& b) {
        return at::cosine_similarity(a.reshape({-1, a.size(-1)}).to(at::kDouble), b.reshape({-1, b.size(-1)}).to(at::kDouble), 1, 1e-12)
            .mean()
            .item<double>();
    };
    const at::Tensor expert = feats(suite.experts[1]);
    const double a0 = cosine(feats(suite.base), expert), a = cosine(feats(merged), expert);
    EXPECT_NEAR(s.at("tokens-cosine@heads")[1], (a - a0) / (1 - a0), 1e-6);
    EXPECT_GT(std::abs(s.at("tokens-cosine@heads")[1] - s.at("task-alignment")[1]), 1e-4) << "two blocks are not the final tokens";
}

TEST(TaskAlignment, WeightSpaceIsTheCosineOfTaskVectors) {
    const eval::TaskSuite& suite = test::reducedSuite();
    const TaskAlignmentProxy proxy(suite, {parseProxyVariant("weight-space")}, "");
    model::ParamMap half;  // θ0 + 0.5 τ_0: parallel to τ_0
    for (const auto& [n, b] : suite.base) half[n] = b + 0.5 * (suite.experts[0].at(n) - b);
    const auto s = proxy.score(half).at("weight-space");
    EXPECT_NEAR(s[0], 1.0, 1e-9);
    EXPECT_LT(s[1], 0.9);
}

TEST(TaskAlignment, ExpertFeaturesAreCachedOnDisk) {
    const eval::TaskSuite& suite = test::reducedSuite();
    test::TempDir cache;
    const std::vector<ProxyVariant> v = {parseProxyVariant("task-alignment"), parseProxyVariant("mean-cka@0")};
    const TaskAlignmentProxy first(suite, v, cache.path("features"));
    EXPECT_EQ(first.cacheHits(), 0);
    const TaskAlignmentProxy second(suite, v, cache.path("features"));
    // Five experts + the base on two distinct probe sets.
    EXPECT_EQ(second.cacheHits(), 7);
    EXPECT_EQ(second.baseAlignment(), first.baseAlignment());
    // A damaged entry is recomputed, not trusted.
    for (const auto& e : std::filesystem::directory_iterator(cache.path("features"))) {
        std::FILE* f = std::fopen(e.path().c_str(), "r+b");
        std::fputs("garbage", f);
        std::fclose(f);
    }
    const TaskAlignmentProxy third(suite, v, cache.path("features"));
    EXPECT_EQ(third.cacheHits(), 0);
    EXPECT_EQ(third.baseAlignment(), first.baseAlignment());
}

}  // namespace
}  // namespace ms::core::proxy

namespace ms::core::proxy {
namespace {

// The live slider's staged score: the gains of every probe image give score()'s Â_t (summed in
// another order); the first n images and the rest, joined, give the same; an estimate's value and
// standard error are the mean of the gains over the gap and sd/√n·√(1 − n/N) over the gap,
// computed here from the gains in plain doubles.
TEST(TaskAlignment, StagedEstimateIsTheScoreWithAllImagesAndAMeanWithStandardErrorBefore) {
    const eval::TaskSuite& suite = test::reducedSuite();
    const TaskAlignmentProxy proxy(suite, {parseProxyVariant("task-alignment")}, "");
    const std::size_t T = suite.tasks.size();
    // A merge between base and experts: the mean of the experts.
    model::ParamMap merged;
    for (const auto& [n, b] : suite.base) {
        at::Tensor sum = at::zeros_like(b);
        for (const auto& e : suite.experts) sum = sum + e.at(n);
        merged[n] = sum / static_cast<double>(T);
    }
    const std::vector<const model::ParamMap*> enc(T, &merged);
    const auto full = proxy.score(merged).at("task-alignment");
    const auto all = proxy.estimate(proxy.imageGains(enc, 0, 1 << 20));
    const std::int64_t n = 5;
    const auto head = proxy.imageGains(enc, 0, n), rest = proxy.imageGains(enc, n, 1 << 20);
    std::vector<at::Tensor> joined;
    for (std::size_t t = 0; t < T; ++t) joined.push_back(at::cat({head[t], rest[t]}));
    const auto staged = proxy.estimate(joined);
    const auto early = proxy.estimate(head);
    for (std::size_t t = 0; t < T; ++t) {
        SCOPED_TRACE(t);
        const std::int64_t N = suite.tasks[t].probe->count;
        ASSERT_GT(N, n);
        EXPECT_NEAR(all.value[t], full[t], 1e-9);
        EXPECT_EQ(all.error[t], 0.0);
        EXPECT_EQ(all.images[t], N);
        EXPECT_NEAR(staged.value[t], full[t], 1e-6);  // the first n images were a forward of their own
        EXPECT_EQ(rest[t].numel(), N - n);
        // The estimate from the first n, by hand.
        ASSERT_EQ(head[t].numel(), n);
        const double gap = 1.0 - proxy.baseAlignment().at("task-alignment")[t];
        double mean = 0, ss = 0;
        for (std::int64_t i = 0; i < n; ++i) mean += head[t][i].item<double>() / n;
        for (std::int64_t i = 0; i < n; ++i) ss += std::pow(head[t][i].item<double>() - mean, 2);
        EXPECT_NEAR(early.value[t], mean / gap, 1e-12);
        EXPECT_NEAR(early.error[t], std::sqrt(ss / (n - 1)) / std::sqrt(double(n)) * std::sqrt(1.0 - double(n) / N) / std::fabs(gap), 1e-12);
        EXPECT_GT(early.error[t], 0.0);
        EXPECT_EQ(early.images[t], n);
        EXPECT_EQ(early.total[t], N);
    }
    // One image has no spread to estimate; none is no estimate.
    const auto one = proxy.estimate(proxy.imageGains(enc, 0, 1));
    EXPECT_TRUE(std::isnan(one.error[0]));
    EXPECT_TRUE(std::isfinite(one.value[0]));
}

}  // namespace
}  // namespace ms::core::proxy
