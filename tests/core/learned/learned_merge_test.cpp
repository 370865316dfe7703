// AdaMerging and CALM: their building blocks on hand-worked cases, and the learning itself on
// the reduced kit — gradients reach the coefficients / mask logits, the entropy objective goes
// down, coefficients stay in [0, 1], results are deterministic for a seed; a learned single-point
// sweep keeps its loss curve and coefficients in the experiment file.
#include "core/learned/learned_merge.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "core/errors.h"
#include "core/eval/task_batches.h"
#include "core/store/experiment_store.h"
#include "core/session/sweep_runner.h"
#include "tests/core/eval/reduced_kit.h"
#include "tests/test_support.h"

namespace ms::core::learned {
namespace {

using model::ParamMap;

TEST(Calm, SamplingKeepsTheLowestEntropyShareOfEachPseudoClass) {
    const std::vector<int> labels = {0, 0, 0, 0, 1, 1};
    const std::vector<double> entropy = {0.4, 0.1, 0.3, 0.2, 0.9, 0.5};
    // Class 0 by entropy: 1, 3, 2, 0 → ⌈0.5·4⌉ = 2 kept; class 1: 5, 4 → ⌈0.5·2⌉ = 1 kept.
    EXPECT_EQ(balancedLowEntropy(labels, entropy, 0.5), (std::vector<std::size_t>{1, 3, 5}));
    EXPECT_EQ(balancedLowEntropy(labels, entropy, 1.0).size(), 6u);
    // A class is never emptied: at least one sample each.
    EXPECT_EQ(balancedLowEntropy(labels, entropy, 0.01), (std::vector<std::size_t>{1, 5}));
}

TEST(Calm, AllZeroMaskKeepsTheRunningMergeAllOnesTakesTheNewTask) {
    const ParamMap running = {{"a", at::tensor({1.0f, -2.0f, 3.0f})}, {"b", at::tensor({0.5f})}};
    const ParamMap fresh = {{"a", at::tensor({-7.0f, 8.0f, 0.25f})}, {"b", at::tensor({-1.5f})}};
    ParamMap zeros, ones, mixed;
    for (const auto& [n, t] : running) zeros[n] = at::zeros_like(t), ones[n] = at::ones_like(t);
    mixed = zeros;
    mixed["a"] = at::tensor({1.0f, 0.0f, 1.0f});
    for (const auto& [n, t] : combineMasked(running, fresh, zeros)) EXPECT_TRUE(at::equal(t, running.at(n))) << n;
    for (const auto& [n, t] : combineMasked(running, fresh, ones)) EXPECT_TRUE(at::equal(t, fresh.at(n))) << n;
    EXPECT_TRUE(at::equal(combineMasked(running, fresh, mixed).at("a"), at::tensor({-7.0f, -2.0f, 0.25f})));
}

TEST(AdaMerging, TiesVectorsTrimElectAndKeepAgreeingEntries) {
    // density 0.5 of 4 entries: keep |τ| ≥ the 2nd smallest; signs of the sum (+, +, tie → the
    // majority +, −); entries against the elected sign are dropped.
    const std::vector<ParamMap> tau = {{{"w", at::tensor({3.0f, -1.0f, 0.5f, -2.0f})}}, {{"w", at::tensor({-1.0f, 2.0f, 0.2f, -3.0f})}}};
    const auto out = tiesVectors(tau, 0.5);
    EXPECT_TRUE(at::equal(out[0].at("w"), at::tensor({3.0f, 0.0f, 0.0f, -2.0f})));
    EXPECT_TRUE(at::equal(out[1].at("w"), at::tensor({0.0f, 2.0f, 0.0f, -3.0f})));
}

merge::ParamValues params(std::initializer_list<std::pair<const std::string, merge::ParamValue>> p) { return merge::ParamValues(p); }

TEST(AdaMerging, GradientsReachTheCoefficientsWhichStayInTheUnitInterval) {
    const eval::TaskSuite& suite = test::reducedSuite();
    const LearnedResult r = runLearnedMerge(suite, "adamerging", params({{"steps", 1.0}, {"lr", 0.5}}));
    ASSERT_EQ(r.artifacts.firstGradNorm.size(), 1u);
    EXPECT_GT(r.artifacts.firstGradNorm[0], 0.0);
    ASSERT_EQ(r.artifacts.matrix.size(), suite.tasks.size());
    EXPECT_EQ(r.artifacts.columns.size(), suite.base.size());  // layer-wise: one per tensor
    bool moved = false;
    for (const auto& row : r.artifacts.matrix)
        for (double c : row) {
            EXPECT_GE(c, 0.0);
            EXPECT_LE(c, 1.0);
            moved = moved || std::abs(c - 0.3) > 1e-6;
        }
    EXPECT_TRUE(moved);
    const LearnedResult task = runLearnedMerge(suite, "adamerging", params({{"steps", 1.0}, {"granularity", std::string("task")}}));
    EXPECT_EQ(task.artifacts.columns, (std::vector<std::string>{"all"}));
    EXPECT_THROW(runLearnedMerge(suite, "ties", {}), InvalidArgument);
    EXPECT_THROW(runLearnedMerge(suite, "adamerging", params({{"granularity", std::string("block")}})), InvalidArgument);
}

TEST(AdaMerging, TheEntropyObjectiveGoesDownAndRunsAreDeterministic) {
    const eval::TaskSuite& suite = test::reducedSuite();
    const LearnedResult r = runLearnedMerge(suite, "adamerging", params({{"steps", 40.0}, {"lr", 0.02}, {"seed", 3.0}}));
    ASSERT_EQ(r.artifacts.loss.size(), 40u);
    const auto mean = [](auto b, auto e) { return std::accumulate(b, e, 0.0) / static_cast<double>(e - b); };
    const double first = mean(r.artifacts.loss.begin(), r.artifacts.loss.begin() + 8);
    const double last = mean(r.artifacts.loss.end() - 8, r.artifacts.loss.end());
    EXPECT_LT(last, first) << "first " << first << ", last " << last;
    const LearnedResult again = runLearnedMerge(suite, "adamerging", params({{"steps", 40.0}, {"lr", 0.02}, {"seed", 3.0}}));
    for (const auto& [n, t] : r.merged) EXPECT_TRUE(at::equal(t, again.merged.at(n))) << n;
    // TIES-processed vectors (AdaMerging++) run too.
    EXPECT_EQ(runLearnedMerge(suite, "adamerging", params({{"steps", 2.0}, {"vectors", std::string("ties")}})).artifacts.loss.size(), 2u);
}

TEST(Calm, MasksAreLearnedOneTaskAtATimeDeterministically) {
    const eval::TaskSuite& suite = test::reducedSuite();
    const auto p = params({{"steps", 3.0}, {"batch", 16.0}, {"lr", 2.0}, {"top", 0.01}});
    const LearnedResult r = runLearnedMerge(suite, "calm", p);
    // First group of 2 by task arithmetic, then the 3 others one at a time.
    ASSERT_EQ(r.artifacts.rows.size(), 3u);
    ASSERT_EQ(r.artifacts.firstGradNorm.size(), 3u);
    for (double g : r.artifacts.firstGradNorm) EXPECT_GT(g, 0.0);
    EXPECT_EQ(r.artifacts.loss.size(), 9u);
    EXPECT_EQ(r.artifacts.columns.size(), static_cast<std::size_t>(suite.config().depth) + 1);
    for (const auto& row : r.artifacts.matrix)
        for (double d : row) EXPECT_TRUE(d >= 0.0 && d <= 1.0);
    EXPECT_EQ(r.merged.size(), suite.base.size());
    const LearnedResult again = runLearnedMerge(suite, "calm", p);
    for (const auto& [n, t] : r.merged) EXPECT_TRUE(at::equal(t, again.merged.at(n))) << n;
    EXPECT_EQ(again.artifacts.rows, r.artifacts.rows);
}

TEST(LearnedSweep, KeepsLossAndCoefficientsInTheExperimentFile) {
    const eval::TaskSuite& suite = test::reducedSuite();
    test::TempDir tmp;
    store::Experiment exp;
    session::SweepOptions o;
    o.spec.merge.method = "adamerging";
    o.spec.merge.params = {{"steps", 3.0}, {"granularity", std::string("task")}};
    o.scoring.downstream.mode = eval::DownstreamMode::Frozen;
    session::runSweep(suite, o, exp, [&](const store::Experiment& e, const store::SweepRecord&, bool) {
        store::writeExperiment(tmp.path("exp.h5"), e);
    });
    const store::Experiment back = store::readExperiment(tmp.path("exp.h5"));
    ASSERT_EQ(back.sweeps[0].points.size(), 1u);
    const auto& a = back.sweeps[0].points[0].artifacts;
    ASSERT_EQ(a.count("loss"), 1u);
    EXPECT_EQ(a.at("loss").shape, (std::vector<std::size_t>{3}));
    EXPECT_EQ(a.at("coefficients").shape, (std::vector<std::size_t>{5, 1}));
    EXPECT_EQ(a.at("coefficients").rows, suite.taskNames());
    EXPECT_EQ(back.sweeps[0].points[0].normalized.size(), 5u);
}

}  // namespace
}  // namespace ms::core::learned

namespace ms::core::learned {
namespace {

// The images RegMean takes for task t: `count` rows of its realign set, evenly spaced.
at::Tensor statisticImagesOf(const eval::TaskSuite& s, std::size_t task, int count) {
    for (const auto& g : s.groups(&eval::SuiteTask::realign))
        if (std::find(g.tasks.begin(), g.tasks.end(), task) != g.tasks.end()) {
            std::vector<std::size_t> rows;
            for (int i = 0; i < count; ++i) rows.push_back(static_cast<std::size_t>(i) * g.set->count / static_cast<std::size_t>(count));
            return eval::imagesToTensor(*g.set, rows);
        }
    throw std::runtime_error("no images");
}

// A hook that keeps the mean xᵀx of `module`'s inputs (computed here, independently of RegMean's).
model::LinearInputFn gramHook(const std::string& module, at::Tensor& gram) {
    return [&gram, module](const std::string& m, const at::Tensor& x) {
        if (m != module) return;
        const at::Tensor flat = x.reshape({-1, x.size(-1)}).to(at::kDouble);
        gram = at::matmul(flat.t(), flat) / static_cast<double>(flat.size(0));
    };
}

// With α = 1 RegMean's W_m solves min Σ_t ‖X_t W_mᵀ − X_t W_tᵀ‖²: Σ_t G_t (W_mᵀ − W_tᵀ) = 0, with
// the Gram matrices recomputed here from the experts' own forwards. Every other tensor is the mean.
TEST(RegMean, EachLinearLayerSolvesItsLeastSquaresProblem) {
    const eval::TaskSuite& s = test::reducedSuite();
    at::NoGradGuard ng;
    const LearnedResult r = runLearnedMerge(s, "regmean", merge::ParamValues{{"alpha", 1.0}, {"examples", 12.0}, {"batch", 5.0}});
    const int last = s.config().depth - 1;
    for (const std::string& module : {std::string("blocks.0.attn.qkv"), "blocks." + std::to_string(last) + ".mlp.fc2"}) {
        SCOPED_TRACE(module);
        at::Tensor residual, scale;
        for (std::size_t t = 0; t < s.tasks.size(); ++t) {
            at::Tensor gram;
            const model::LinearInputFn hook = gramHook(module, gram);
            model::ForwardOptions o;
            o.linearInputs = &hook;
            model::vitForward(s.config(), s.experts[t], statisticImagesOf(s, t, 12), o);
            const at::Tensor wt = s.experts[t].at(module + ".weight").to(at::kDouble).t();
            const at::Tensor term = at::matmul(gram, r.merged.at(module + ".weight").to(at::kDouble).t() - wt);
            residual = residual.defined() ? residual + term : term;
            const at::Tensor size = at::matmul(gram, wt).abs();
            scale = scale.defined() ? scale + size : size;
        }
        EXPECT_LT(residual.abs().max().item<double>(), 1e-4 * scale.max().item<double>());
    }
    for (const std::string name : {"blocks.0.norm1.weight", "blocks.0.attn.qkv.bias", "pos_embed"}) {
        at::Tensor mean = at::zeros_like(s.base.at(name));
        for (const auto& e : s.experts) mean += e.at(name);
        mean /= static_cast<double>(s.experts.size());
        EXPECT_TRUE(at::allclose(r.merged.at(name), mean, 1e-5, 1e-6)) << name;
    }
}

// Equal experts merge to that expert, whatever the method's statistics.
TEST(RegMean, EqualExpertsGiveThatExpertBackForRegMeanRegMeanPlusAndFisher) {
    eval::TaskSuite s = test::reducedSuite();
    for (auto& e : s.experts) e = s.experts[1];
    for (const char* method : {"regmean", "regmean_plus", "fisher"}) {
        SCOPED_TRACE(method);
        const LearnedResult r = runLearnedMerge(s, method, merge::ParamValues{{"examples", 8.0}, {"batch", 4.0}});
        for (const auto& [name, want] : s.experts[1])
            EXPECT_TRUE(at::allclose(r.merged.at(name), want, 1e-4, 1e-5)) << name;
    }
}

// RegMean++ takes each block's statistics on the merged model's own activations: for block 0,
// the experts' block 0 fed the merged embeddings (α = 1: the same least-squares property).
TEST(RegMean, PlusTakesTheFirstBlocksStatisticsOnTheMergedEmbeddings) {
    const eval::TaskSuite& s = test::reducedSuite();
    at::NoGradGuard ng;
    const LearnedResult r = runLearnedMerge(s, "regmean_plus", merge::ParamValues{{"alpha", 1.0}, {"examples", 10.0}, {"batch", 10.0}});
    const LearnedResult plain = runLearnedMerge(s, "regmean", merge::ParamValues{{"alpha", 1.0}, {"examples", 10.0}, {"batch", 10.0}});
    const std::string module = "blocks.0.mlp.fc1";
    at::Tensor residual, scale;
    for (std::size_t t = 0; t < s.tasks.size(); ++t) {
        at::Tensor gram;
        const model::LinearInputFn hook = gramHook(module, gram);
        model::vitBlock(s.config(), s.experts[t], 0, model::vitEmbed(s.config(), r.merged, statisticImagesOf(s, t, 10)), &hook);
        const at::Tensor wt = s.experts[t].at(module + ".weight").to(at::kDouble).t();
        const at::Tensor term = at::matmul(gram, r.merged.at(module + ".weight").to(at::kDouble).t() - wt);
        residual = residual.defined() ? residual + term : term;
        scale = scale.defined() ? scale + at::matmul(gram, wt).abs() : at::matmul(gram, wt).abs();
    }
    EXPECT_LT(residual.abs().max().item<double>(), 1e-4 * scale.max().item<double>());
    const std::string later = "blocks." + std::to_string(s.config().depth - 1) + ".mlp.fc2.weight";
    EXPECT_FALSE(at::allclose(r.merged.at(later), plain.merged.at(later), 1e-4, 1e-6)) << "later blocks see other inputs";
}

// Fisher merging without normalisation is a per-parameter convex combination of the experts.
TEST(Fisher, EachParameterIsAConvexCombinationOfTheExperts) {
    const eval::TaskSuite& s = test::reducedSuite();
    const LearnedResult r = runLearnedMerge(s, "fisher", merge::ParamValues{{"examples", 8.0}, {"batch", 4.0}, {"normalize", "false"}});
    bool moved = false;
    for (const auto& [name, merged] : r.merged) {
        at::Tensor lo = s.experts[0].at(name), hi = lo;
        for (const auto& e : s.experts) lo = at::minimum(lo, e.at(name)), hi = at::maximum(hi, e.at(name));
        EXPECT_TRUE((merged >= lo - 1e-6).all().item<bool>() && (merged <= hi + 1e-6).all().item<bool>()) << name;
        at::Tensor mean = at::zeros_like(merged);
        for (const auto& e : s.experts) mean += e.at(name);
        moved |= !at::allclose(merged, mean / static_cast<double>(s.experts.size()), 1e-3, 1e-6);
    }
    EXPECT_TRUE(moved) << "the Fisher weights are not uniform";
}

}  // namespace
}  // namespace ms::core::learned

namespace ms::core::learned {
namespace {

// RegMean's Gram matrices and Fisher's diagonal are cached per expert and images: a second merge
// reads them (same result), a damaged entry is recomputed and replaced.
TEST(RegMean, StatisticsAreCachedByContentAndADamagedEntryIsRecomputed) {
    test::TempDir tmp;
    const char* before = std::getenv("XDG_CACHE_HOME");
    const std::string saved = before ? before : "";
    ::setenv("XDG_CACHE_HOME", tmp.path("cache").c_str(), 1);
    const eval::TaskSuite& s = test::reducedSuite();
    const std::string dir = tmp.path("cache") + "/mergescope/statistics";
    for (const char* method : {"regmean", "fisher"}) {
        SCOPED_TRACE(method);
        const merge::ParamValues p{{"examples", 6.0}, {"batch", 3.0}};
        const LearnedResult first = runLearnedMerge(s, method, p);
        std::size_t files = 0;
        for (const auto& e : std::filesystem::directory_iterator(dir)) files += e.path().extension() == ".safetensors";
        EXPECT_GE(files, s.tasks.size());
        const LearnedResult again = runLearnedMerge(s, method, p);
        for (const auto& [name, t] : first.merged) EXPECT_TRUE(at::allclose(again.merged.at(name), t, 1e-6, 1e-7)) << name;
        for (const auto& e : std::filesystem::directory_iterator(dir)) std::ofstream(e.path(), std::ios::trunc) << "damaged";
        const LearnedResult third = runLearnedMerge(s, method, p);
        for (const auto& [name, t] : first.merged) EXPECT_TRUE(at::allclose(third.merged.at(name), t, 1e-6, 1e-7)) << name;
        std::filesystem::remove_all(dir);
    }
    if (before) ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
    else ::unsetenv("XDG_CACHE_HOME");
}

}  // namespace
}  // namespace ms::core::learned
