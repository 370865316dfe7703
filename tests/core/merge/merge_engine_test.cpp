// Merge engine behaviour: hand-worked thresholds, prepare reuse, per-tensor λ, filters, dtypes,
// per-task outputs, reproducibility, and errors that name what is wrong.
#include "core/merge/merge_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "core/errors.h"
#include "core/io/checkpoint_writer.h"
#include "core/io/source_factory.h"
#include "core/merge/topk_selection.h"
#include "tests/test_support.h"

namespace ms::core::merge {
namespace {

using Tensors = std::vector<std::pair<std::string, std::vector<float>>>;

void writeModel(const std::string& path, const Tensors& tensors, io::DType dtype = io::DType::F32) {
    std::vector<io::TensorToWrite> specs;
    for (const auto& [n, v] : tensors) specs.push_back({n, dtype, {static_cast<std::int64_t>(v.size())}});
    io::writeSafetensors(path, specs, [&](std::size_t i, std::byte* d) {
        io::fromFloat32(dtype, tensors[i].second.data(), d, tensors[i].second.size());
    }, {});
}

MergeSpec twoExperts(const test::TempDir& tmp, const std::string& method) {
    writeModel(tmp.path("base.safetensors"), {{"blocks.0.w", {0, 0, 0, 0}}, {"blocks.1.w", {1, 1, 1, 1}}, {"head.w", {5}}});
    writeModel(tmp.path("a.safetensors"), {{"blocks.0.w", {1, -2, 3, 0}}, {"blocks.1.w", {2, 2, 2, 2}}, {"head.w", {6}}});
    writeModel(tmp.path("b.safetensors"), {{"blocks.0.w", {1, 2, -1, 4}}, {"blocks.1.w", {0, 1, 1, 3}}, {"head.w", {7}}});
    MergeSpec s;
    s.method = method;
    s.base = tmp.path("base.safetensors");
    s.models = {{tmp.path("a.safetensors"), "task-a", {}, ""}, {tmp.path("b.safetensors"), "task-b", {}, ""}};
    return s;
}

// The engine's settings with these parameters (per-model ones cleared unless given).
MergeSpec withParams(const MergeEngine& e, ParamValues global, std::vector<ParamValues> perModel = {}) {
    MergeSpec s = e.spec();
    s.params = std::move(global);
    for (std::size_t i = 0; i < s.models.size(); ++i) s.models[i].params = i < perModel.size() ? perModel[i] : ParamValues{};
    return s;
}

TEST(TopK, ThresholdRankFollowsTheOfficialCode) {
    EXPECT_EQ(thresholdRank(10, 0.2), 8u);  // keep int(10*0.2)=2 → the 8th smallest
    EXPECT_EQ(thresholdRank(10, 1.0), 0u);  // keep all
    EXPECT_EQ(thresholdRank(3, 0.1), 3u);   // int(0.3)=0 → the largest is the threshold
}

TEST(TopK, ValuesEqualToTheThresholdAreKept) {
    test::TempDir tmp;
    // |τ| of task a over the flattened vector (sorted names): [1,2,3,0, 1,1,1,1]: d = 8.
    auto spec = twoExperts(tmp, "magnitude");
    spec.params["density"] = 0.25;  // rank 8 − 2 = 6 → 6th smallest of {0,1,1,1,1,1,2,3} = 1
    MergeEngine e(spec);
    const auto out = e.applyToMemory(-1);
    // Task a keeps every |τ| >= 1: 7 entries, not 2, because of the ties (as the official code
    // does). Task b: |τ| = [1,2,1,4, 1,0,0,2], 6th smallest = 2 → keeps [0,2,0,4, 0,0,0,2].
    EXPECT_EQ(out[0], (std::vector<float>{1, 0, 3, 4}));  // 0 + [1,-2,3,0] + [0,2,0,4]
    EXPECT_EQ(out[1], (std::vector<float>{2, 2, 2, 4}));  // 1 + [1,1,1,1] + [0,0,0,2]
}

TEST(TopK, GlobalSelectionMatchesASortOnLargeRandomInputs) {
    test::TempDir tmp;
    std::mt19937 rng(3);
    std::normal_distribution<float> n(0, 1);
    Tensors base, ex;
    for (int t = 0; t < 3; ++t) {
        std::vector<float> b(50000 + 1000 * t), e(b.size());
        for (std::size_t i = 0; i < b.size(); ++i) {
            b[i] = n(rng);
            e[i] = i % 7 == 0 ? b[i] : b[i] + 0.01f * n(rng);  // many exact zeros in τ
        }
        base.push_back({"t" + std::to_string(t), b});
        ex.push_back({"t" + std::to_string(t), e});
    }
    writeModel(tmp.path("b.safetensors"), base);
    writeModel(tmp.path("e.safetensors"), ex);
    const auto bs = io::openCheckpoint(tmp.path("b.safetensors"));
    const auto es = io::openCheckpoint(tmp.path("e.safetensors"));
    MergeProblem problem(*bs, {es.get()}, makePlan(*bs, {es.get()}, TensorFilter{}));
    std::vector<float> all;
    for (std::size_t t = 0; t < 3; ++t)
        for (std::size_t i = 0; i < base[t].second.size(); ++i) all.push_back(std::fabs(ex[t].second[i] - base[t].second[i]));
    for (double density : {0.001, 0.2, 0.5, 0.9, 0.99}) {
        const auto th = selectTopK(problem, {density}, TopKScope::Global);
        auto sorted = all;
        std::sort(sorted.begin(), sorted.end());
        EXPECT_EQ(th.threshold(0, 0), sorted[thresholdRank(all.size(), density) - 1]) << density;
    }
}

TEST(MergeEngine, LambdaAndWeightChangesReuseThePreparation) {
    test::TempDir tmp;
    auto spec = twoExperts(tmp, "ties");
    MergeEngine e(spec);
    const auto first = e.applyToMemory(-1);
    EXPECT_EQ(e.prepareCount(), 1);
    e.update(withParams(e, {{"lambda", 0.5}}, {{{"weight", 2.0}}, {}}));
    const auto second = e.applyToMemory(-1);
    EXPECT_EQ(e.prepareCount(), 1) << "λ and weights must not redo prepare";
    EXPECT_NE(first, second);
    e.update(withParams(e, {{"lambda", 0.5}, {"density", 0.5}}, {}));
    e.applyToMemory(-1);
    EXPECT_EQ(e.prepareCount(), 2) << "density changes the trimming: prepare again";
}

TEST(MergeEngine, UpdateTakesOneSpecAndRefusesOneThatNeedsAnotherEngine) {
    test::TempDir tmp;
    MergeEngine e(twoExperts(tmp, "ties"));
    MergeSpec other = e.spec();
    other.method = "task_arithmetic";
    EXPECT_FALSE(e.accepts(other));
    EXPECT_THROW(e.update(other), InvalidArgument);
    MergeSpec bad = withParams(e, {{"density", 2.0}});
    EXPECT_TRUE(e.accepts(bad));
    EXPECT_THROW(e.update(bad), InvalidArgument);
    const std::string before = toJson(e.spec());
    EXPECT_THROW(e.update(bad), InvalidArgument);
    EXPECT_EQ(toJson(e.spec()), before) << "a refused update leaves the engine as it was";
    MergeSpec curve = withParams(e, {{"lambda", 0.7}});
    curve.lambda.blockCurve = {0.2, 1.0};
    e.update(curve);
    EXPECT_EQ(e.spec().lambda.blockCurve, (std::vector<double>{0.2, 1.0}));
    EXPECT_DOUBLE_EQ(std::get<double>(e.spec().params.at("lambda")), 0.7);
}

TEST(MergeEngine, LambdaOnlyChangesUseTheCachedTaskVectorAndMatchAFullApply) {
    test::TempDir tmp;
    for (const char* method : {"ties", "task_arithmetic", "consensus", "breadcrumbs"}) {
        auto spec = twoExperts(tmp, method);
        spec.params = {{"lambda", 0.3}};
        MergeEngine cached(spec);
        cached.applyToMemory(-1);
        cached.update(withParams(cached, {{"lambda", 0.8}}, {}));
        const auto fast = cached.applyToMemory(-1);
        EXPECT_EQ(cached.deltaComputations(), 1) << method;
        spec.params = {{"lambda", 0.8}};
        MergeEngine fresh(spec);
        std::vector<float> direct(fresh.problem().plan().merged[0].numel);
        fresh.prepare();
        fresh.applyTensor(0, -1, direct.data());
        EXPECT_EQ(fast[0], direct) << method << ": the cached path must equal a full apply";
        cached.update(withParams(cached, {{"lambda", 0.8}}, {{{"weight", 0.5}}, {}}));
        cached.applyToMemory(-1);
        EXPECT_EQ(cached.deltaComputations(), 2) << method << ": weights change the task vector";
    }
}

// The subspace methods on hand-worked task vectors: τ_a = diag(3, 0), τ_b = diag(0, 1) on a 2×2
// weight (a bias beside it takes the mean τ). Σ τ = diag(3, 1): Iso-C flattens it to 2·I; TSV-M
// keeps each task's top triplet (r = 1), orthogonal already: diag(3, 1), task arithmetic here;
// Iso-CTS with common_fraction 0.5 rounds (2 − 1)/2 = 0.5 to 0 (half to even, as Python): the
// whole spectrum is common, Iso-C; with 0 each task keeps one direction of its own, mean 2 again.
TEST(SubspaceMethods, HandWorkedTaskVectors) {
    test::TempDir tmp;
    const auto write = [&](const std::string& file, std::vector<float> w, std::vector<float> b) {
        const std::vector<io::TensorToWrite> specs = {{"blocks.0.bias", io::DType::F32, {2}}, {"blocks.0.weight", io::DType::F32, {2, 2}}};
        io::writeSafetensors(tmp.path(file), specs, [&](std::size_t i, std::byte* d) {
            const auto& v = i == 0 ? b : w;
            std::memcpy(d, v.data(), v.size() * sizeof(float));
        }, {});
    };
    write("base.safetensors", {1, 1, 1, 1}, {0, 0});
    write("a.safetensors", {4, 1, 1, 1}, {1, 0});
    write("b.safetensors", {1, 1, 1, 2}, {0, 3});
    const auto merged = [&](const std::string& method, ParamValues params) {
        MergeSpec s;
        s.method = method;
        s.base = tmp.path("base.safetensors");
        s.models = {{tmp.path("a.safetensors"), "a", {}, ""}, {tmp.path("b.safetensors"), "b", {}, ""}};
        s.params = std::move(params);
        MergeEngine e(s);
        return e.applyToMemory(-1);  // sorted names: bias, weight
    };
    const auto near = [](const std::vector<float>& got, const std::vector<float>& want) {
        ASSERT_EQ(got.size(), want.size());
        for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
    };
    for (const auto& [method, params] : std::vector<std::pair<std::string, ParamValues>>{
             {"iso_c", {{"lambda", 0.5}}}, {"iso_cts", {{"lambda", 0.5}, {"common_fraction", 0.5}}}, {"iso_cts", {{"lambda", 0.5}, {"common_fraction", 0.0}}}}) {
        SCOPED_TRACE(method);
        const auto m = merged(method, params);
        near(m[0], {0.25f, 0.75f});              // θ0 + λ·mean τ
        near(m[1], {2.0f, 1.0f, 1.0f, 2.0f});    // θ0 + λ·2I
    }
    const auto t = merged("tsv_m", {{"lambda", 0.5}});
    near(t[1], {2.5f, 1.0f, 1.0f, 1.5f});        // θ0 + λ·diag(3, 1)
    // WUDI: the task vectors are orthogonal, so Σ τ_t already disturbs neither task (the
    // gradient 2·(τ_m·G − B) is 0 at the start) and Adam leaves it there.
    const auto w = merged("wudi", {{"lambda", 0.5}});
    near(w[0], {0.25f, 0.75f});
    near(w[1], {2.5f, 1.0f, 1.0f, 1.5f});
    // CART with two tasks: the centred task vectors are each other's negatives, so are their
    // low-rank parts, and the merge is the average whatever the rank and λ.
    for (const double ratio : {0.0, 0.5, 1.0}) {
        const auto c = merged("cart", {{"lambda", 3.0}, {"rank_ratio", ratio}});
        near(c[0], {0.5f, 1.5f});
        near(c[1], {2.5f, 1.0f, 1.0f, 1.5f});
    }

    // One task, τ = [[3, 1], [0, 2]] (singular values √(7 ± √13)): TSV-M keeps every triplet, so
    // it is task arithmetic; Iso-C gives mean(s)·U·Vᵀ, whose singular values are both that mean.
    write("c.safetensors", {4, 2, 1, 3}, {2, 2});
    MergeSpec one;
    one.base = tmp.path("base.safetensors");
    one.models = {{tmp.path("c.safetensors"), "c", {}, ""}};
    one.method = "tsv_m";
    near(MergeEngine(one).applyToMemory(-1)[1], {4, 2, 1, 3});
    one.method = "wudi";  // one task: τ_m = τ is the loss's minimum, where Adam starts
    near(MergeEngine(one).applyToMemory(-1)[1], {4, 2, 1, 3});
    one.method = "cart";  // one task: the average is the expert, its centred task vector 0
    near(MergeEngine(one).applyToMemory(-1)[1], {4, 2, 1, 3});
    one.method = "iso_c";
    const auto iso = MergeEngine(one).applyToMemory(-1)[1];
    const double mean = (std::sqrt(7 + std::sqrt(13.0)) + std::sqrt(7 - std::sqrt(13.0))) / 2;
    // M = mean·U·Vᵀ: MᵀM = mean²·I.
    const double a = iso[0] - 1, b = iso[1] - 1, c = iso[2] - 1, d = iso[3] - 1;
    EXPECT_NEAR(a * a + c * c, mean * mean, 1e-5);
    EXPECT_NEAR(b * b + d * d, mean * mean, 1e-5);
    EXPECT_NEAR(a * b + c * d, 0.0, 1e-5);
    EXPECT_GT(a * 3 + b * 1 + c * 0 + d * 2, 0.0) << "the same orientation as τ";
}

TEST(SubspaceMethods, LambdaOnlyChangesReuseThePreparationAndNonFiniteValuesAreRefused) {
    test::TempDir tmp;
    const auto write = [&](const std::string& file, float corner) {
        const std::vector<float> w = {corner, 0.5f, -0.25f, 1.0f, 0.75f, 2.0f};
        io::writeSafetensors(tmp.path(file), {{"blocks.0.weight", io::DType::F32, {3, 2}}}, [&](std::size_t, std::byte* d) {
            std::memcpy(d, w.data(), w.size() * sizeof(float));
        }, {});
    };
    write("base.safetensors", 0.0f);
    write("a.safetensors", 1.0f);
    write("b.safetensors", -3.0f);
    write("nan.safetensors", std::nanf(""));
    for (const std::string method : {"iso_c", "iso_cts", "tsv_m", "wudi", "cart"}) {
        MergeSpec s;
        s.method = method;
        s.base = tmp.path("base.safetensors");
        s.models = {{tmp.path("a.safetensors"), "a", {}, ""}, {tmp.path("b.safetensors"), "b", {}, ""}};
        s.params = {{"lambda", 0.3}};
        MergeEngine e(s);
        e.applyToMemory(-1);
        e.update(withParams(e, {{"lambda", 0.9}}));
        e.applyToMemory(-1);
        if (method != "cart") {
            EXPECT_EQ(e.deltaComputations(), 1) << method << ": linear in λ";
        }
        EXPECT_EQ(e.prepareCount(), 1) << method << ": λ does not redo the SVDs";
        s.models[1].path = tmp.path("nan.safetensors");
        try {
            MergeEngine bad(s);
            bad.applyToMemory(-1);
            ADD_FAILURE() << method << " merged a NaN";
        } catch (const InvalidArgument& err) {
            EXPECT_NE(std::string(err.what()).find("blocks.0.weight of model 2"), std::string::npos) << err.what();
        }
    }
}

// One Adam step by hand: τ_a = [[1, 1], [0, 0]], τ_b = [[1, 0], [0, 0]], τ_m = Σ = [[2, 1], [0, 0]].
// ∇ = 2(τ_m − τ_a)τ_aᵀτ_a/2 + 2(τ_m − τ_b)τ_bᵀτ_b/1 = [[1, 1], [0, 0]] + [[2, 0], [0, 0]]; Adam's
// first step moves each entry by lr against the sign of its gradient (none where it is 0).
TEST(SubspaceMethods, WudiTakesAdamStepsOnTheInterferenceLoss) {
    test::TempDir tmp;
    const auto write = [&](const std::string& file, std::vector<float> w) {
        io::writeSafetensors(tmp.path(file), {{"blocks.0.weight", io::DType::F32, {2, 2}}}, [&](std::size_t, std::byte* d) {
            std::memcpy(d, w.data(), w.size() * sizeof(float));
        }, {});
    };
    write("base.safetensors", {0, 0, 0, 0});
    write("a.safetensors", {1, 1, 0, 0});
    write("b.safetensors", {1, 0, 0, 0});
    MergeSpec s;
    s.method = "wudi";
    s.base = tmp.path("base.safetensors");
    s.models = {{tmp.path("a.safetensors"), "a", {}, ""}, {tmp.path("b.safetensors"), "b", {}, ""}};
    s.params = {{"steps", 1.0}, {"lr", 0.1}};
    const auto one = MergeEngine(s).applyToMemory(-1)[0];
    const std::vector<float> want = {1.9f, 0.9f, 0.0f, 0.0f};
    for (std::size_t i = 0; i < 4; ++i) EXPECT_NEAR(one[i], want[i], 1e-6) << i;
    s.params = {{"steps", 0.0}};  // no step: the sum
    const auto none = MergeEngine(s).applyToMemory(-1)[0];
    EXPECT_NEAR(none[0], 2.0f, 1e-6);
    EXPECT_NEAR(none[1], 1.0f, 1e-6);
}

// DELLA ranks along the second axis; where it has one entry (a class token [1, 1, D], an [N, 1]
// weight) mergekit stops, MergeScope ranks each first-axis slice: the merge runs, each tensor's
// L1 norm kept (one model, weight 1, rescale on).
TEST(Della, RunsOnClassTokensAndColumnWeightsKeepingTheL1Norm) {
    test::TempDir tmp;
    const std::vector<io::TensorToWrite> specs = {{"blocks.0.col.weight", io::DType::F32, {16, 1}}, {"cls_token", io::DType::F32, {1, 1, 32}}};
    const auto write = [&](const std::string& file, float scale) {
        io::writeSafetensors(tmp.path(file), specs, [&](std::size_t i, std::byte* d) {
            const std::size_t n = i == 0 ? 16 : 32;
            std::vector<float> v(n);
            for (std::size_t j = 0; j < n; ++j) v[j] = scale * static_cast<float>((j * 7 + 3) % 11) / 10.0f;
            std::memcpy(d, v.data(), n * sizeof(float));
        }, {});
    };
    write("base.safetensors", 0.0f);
    write("a.safetensors", 1.0f);
    MergeSpec s;
    s.method = "della_linear";
    s.base = tmp.path("base.safetensors");
    s.models = {{tmp.path("a.safetensors"), "a", {}, ""}};
    s.params = {{"density", 0.5}, {"epsilon", 0.2}};
    const auto merged = MergeEngine(s).applyToMemory(-1);
    for (std::size_t i = 0; i < merged.size(); ++i) {
        const std::size_t n = merged[i].size();
        double before = 0, after = 0;
        std::size_t kept = 0;
        for (std::size_t j = 0; j < n; ++j) {
            before += ((j * 7 + 3) % 11) / 10.0;
            after += std::fabs(merged[i][j]);
            kept += merged[i][j] != 0.0f;
        }
        EXPECT_NEAR(after, before, 1e-4 * before) << i;
        EXPECT_GT(kept, 0u);
        EXPECT_LT(kept, n);
    }
}

// PCB's order statistics are exact over a model of many chunks on several threads (radix
// selection streamed): the merge equals a direct computation with full sorts, on 2 × 150,001
// random entries per task.
TEST(Pcb, ManyChunksEqualADirectComputationWithSorts) {
    test::TempDir tmp;
    const std::size_t n = 150001, T = 3;
    std::mt19937 rng(5);
    std::normal_distribution<float> g(0.0f, 0.02f);
    std::vector<float> base(2 * n);
    for (float& v : base) v = g(rng) * 5;
    std::vector<std::vector<float>> experts(T, base);
    for (auto& e : experts)
        for (std::size_t i = 0; i < e.size(); ++i) e[i] += (i % 97 == 0) ? 0.0f : g(rng);
    const auto write = [&](const std::string& file, const std::vector<float>& v) {
        writeModel(tmp.path(file), {{"blocks.0.w", std::vector<float>(v.begin(), v.begin() + n)},
                                    {"blocks.1.w", std::vector<float>(v.begin() + n, v.end())}});
    };
    write("base.safetensors", base);
    for (std::size_t t = 0; t < T; ++t) write("e" + std::to_string(t) + ".safetensors", experts[t]);
    MergeSpec spec;
    spec.method = "pcb";
    spec.base = tmp.path("base.safetensors");
    for (std::size_t t = 0; t < T; ++t) spec.models.push_back({tmp.path("e" + std::to_string(t) + ".safetensors"), "", {}, ""});
    spec.params = {{"density", 0.2}};
    const auto merged = MergeEngine(spec).applyToMemory(-1);
    // The reference's steps with std::sort.
    const std::size_t d = 2 * n;
    std::vector<std::vector<float>> tau(T, std::vector<float>(d)), c(T, std::vector<float>(d)), p(T, std::vector<float>(d));
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t i = 0; i < d; ++i) tau[t][i] = experts[t][i] - base[i];
    const auto at = [&](std::vector<float> v, std::size_t k) {
        std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
        return v[k];
    };
    std::vector<float> num(d, 0.0f), den(d, 0.0f);
    for (std::size_t t = 0; t < T; ++t) {
        std::vector<float> mag(d);
        for (std::size_t i = 0; i < d; ++i) mag[i] = std::fabs(tau[t][i]);
        const float lo = at(mag, static_cast<std::size_t>(static_cast<double>(d) * 0.0001));
        const float hi = at(mag, static_cast<std::size_t>(static_cast<double>(d) * 0.9999) - 1);
        for (std::size_t i = 0; i < d; ++i) {
            float sum = 0.0f;
            for (std::size_t s = 0; s < T; ++s) sum += tau[s][i];
            const float a = std::clamp(mag[i], lo, hi), norm = (a - lo) / (hi - lo);
            c[t][i] = tau[t][i] == 0.0f ? 0.0f : std::copysign(a, tau[t][i]);
            p[t][i] = std::exp(static_cast<float>(T) * (norm * norm)) * std::tanh(tau[t][i] * sum);
        }
        const float q = at(p[t], static_cast<std::size_t>(static_cast<double>(d) * 0.8)), mx = *std::max_element(p[t].begin(), p[t].end());
        for (std::size_t i = 0; i < d; ++i) {
            const float sc = (std::max(p[t][i], q) - q) / (mx - q);
            num[i] += c[t][i] * sc;
            den[i] += sc;
        }
    }
    double worst = 0;
    for (std::size_t i = 0; i < d; ++i) {
        const float want = base[i] + num[i] / std::max(den[i], 1e-12f);
        worst = std::max(worst, static_cast<double>(std::fabs(merged[i / n][i % n] - want)));
    }
    EXPECT_LT(worst, 1e-6);
}

TEST(MergeEngine, LambdaFastPathOnLargeTensorsEqualsAFullApply) {
    // Above 64 Ki elements the cached path writes with streaming stores: same values required.
    test::TempDir tmp;
    const std::size_t n = 200003;  // odd size: unaligned head and scalar tail too
    std::vector<float> b(n), e1(n), e2(n);
    for (std::size_t i = 0; i < n; ++i) {
        b[i] = std::sin(0.001f * static_cast<float>(i));
        e1[i] = b[i] + 0.01f * std::cos(0.37f * static_cast<float>(i));
        e2[i] = b[i] - 0.02f * std::sin(0.11f * static_cast<float>(i));
    }
    writeModel(tmp.path("b.safetensors"), {{"w", b}});
    writeModel(tmp.path("e1.safetensors"), {{"w", e1}});
    writeModel(tmp.path("e2.safetensors"), {{"w", e2}});
    MergeSpec spec;
    spec.method = "ties";
    spec.base = tmp.path("b.safetensors");
    spec.models = {{tmp.path("e1.safetensors"), "", {}, ""}, {tmp.path("e2.safetensors"), "", {}, ""}};
    spec.params = {{"lambda", 0.3}};
    MergeEngine cached(spec);
    std::vector<std::vector<float>> out;
    cached.applyToMemory(-1, out);
    cached.update(withParams(cached, {{"lambda", 0.9}}, {}));
    cached.applyToMemory(-1, out);
    spec.params = {{"lambda", 0.9}};
    MergeEngine fresh(spec);
    fresh.prepare();
    std::vector<float> direct(n);
    fresh.applyTensor(0, -1, direct.data());
    EXPECT_EQ(out[0], direct);
}

TEST(MergeEngine, PerTensorLambdaCurveAndOverrides) {
    test::TempDir tmp;
    auto spec = twoExperts(tmp, "task_arithmetic");
    spec.lambda.blockCurve = {0.0, 1.0};                     // block 0 → 0, block 1 → 1
    spec.lambda.overrides = {{R"(^blocks\.1\.)", 0.5}};      // then block 1 → 0.5
    MergeEngine e(spec);
    EXPECT_DOUBLE_EQ(e.coefficientsFor(0, -1).lambda, 0.0);
    EXPECT_DOUBLE_EQ(e.coefficientsFor(1, -1).lambda, 0.5);
    const auto out = e.applyToMemory(-1);
    EXPECT_EQ(out[0], (std::vector<float>{0, 0, 0, 0}));
    EXPECT_EQ(out[1], (std::vector<float>{1.0f, 1.5f, 1.5f, 2.5f}));  // 1 + 0.5·([1,1,1,1] + [-1,0,0,2])
    EXPECT_DOUBLE_EQ(interpolateCurve({0.2, 0.4, 1.0}, 1, 3), 0.4);
    EXPECT_DOUBLE_EQ(interpolateCurve({0.0, 1.0}, 1, 5), 0.25);
}

TEST(MergeEngine, HeadsAreNotMergedAndFiltersAreHonoured) {
    test::TempDir tmp;
    auto spec = twoExperts(tmp, "task_arithmetic");
    spec.filter.exclude = {R"(^blocks\.1\.)"};
    MergeEngine e(spec);
    ASSERT_EQ(e.problem().plan().merged.size(), 1u);
    EXPECT_EQ(e.problem().plan().copied, (std::vector<std::string>{"blocks.1.w", "head.w"}));
    e.write(tmp.path("out.safetensors"), -1);
    const auto out = io::openCheckpoint(tmp.path("out.safetensors"));
    EXPECT_EQ(out->loadFloat32("blocks.1.w"), (std::vector<float>{1, 1, 1, 1}));  // the base's
    EXPECT_EQ(out->loadFloat32("head.w"), (std::vector<float>{5}));               // the base's head
}

TEST(MergeEngine, MismatchedModelsAreRefusedWithAReportAndNoOutput) {
    test::TempDir tmp;
    auto spec = twoExperts(tmp, "task_arithmetic");
    writeModel(tmp.path("b.safetensors"), {{"blocks.0.w", {1, 2, 3}}, {"blocks.1.w", {0, 1, 1, 3}}});
    try {
        MergeEngine e(spec);
        FAIL();
    } catch (const MismatchError& err) {
        const std::string m = err.what();
        EXPECT_NE(m.find("b.safetensors"), std::string::npos) << m;
        EXPECT_NE(m.find("blocks.0.w: shape mismatch"), std::string::npos) << m;
    }
}

TEST(MergeEngine, OutputDtypeAndPerTaskModels) {
    test::TempDir tmp;
    auto spec = twoExperts(tmp, "tall_masks");
    spec.dtype = io::DType::BF16;
    MergeEngine e(spec);
    EXPECT_THROW(e.write(tmp.path("x.safetensors"), -1), InvalidArgument);
    e.write(tmp.path("b.safetensors.out.safetensors"), 1);
    const auto out = io::openCheckpoint(tmp.path("b.safetensors.out.safetensors"));
    EXPECT_EQ(out->find("blocks.0.w")->dtype, io::DType::BF16);
    EXPECT_EQ(out->metadata().at("mergescope.task"), "task-b");
}

TEST(MergeEngine, DareIsReproducibleFromItsSeed) {
    test::TempDir tmp;
    auto spec = twoExperts(tmp, "dare_linear");
    spec.params = {{"density", 0.5}, {"seed", 11.0}};
    const auto a = MergeEngine(spec).applyToMemory(-1);
    const auto b = MergeEngine(spec).applyToMemory(-1);
    EXPECT_EQ(a, b);
    spec.params["seed"] = 12.0;
    EXPECT_NE(MergeEngine(spec).applyToMemory(-1), a);
}

TEST(MergeEngine, BadParametersNameTheParameter) {
    test::TempDir tmp;
    auto spec = twoExperts(tmp, "ties");
    spec.params = {{"densty", 0.2}};
    try {
        MergeEngine e(spec);
        FAIL();
    } catch (const InvalidArgument& err) {
        EXPECT_NE(std::string(err.what()).find("no parameter 'densty'"), std::string::npos) << err.what();
        EXPECT_NE(std::string(err.what()).find("density"), std::string::npos) << err.what();
    }
    spec.params = {{"density", 1.5}};
    EXPECT_THROW(MergeEngine{spec}, InvalidArgument);
    spec.params = {{"topk_scope", std::string("everywhere")}};
    EXPECT_THROW(MergeEngine{spec}, InvalidArgument);
    spec.method = "nope";
    EXPECT_THROW(MergeEngine{spec}, InvalidArgument);
    spec.method = "slerp";
    spec.params.clear();
    spec.models.push_back(spec.models[0]);
    EXPECT_THROW(MergeEngine{spec}, InvalidArgument);  // at most two models
}

TEST(MergeEngine, CancellationStopsWithoutOutput) {
    test::TempDir tmp;
    MergeEngine e(twoExperts(tmp, "task_arithmetic"));
    CancelToken cancel;
    cancel.cancel();
    EXPECT_THROW(e.write(tmp.path("out.safetensors"), -1, {}, nullProgress(), &cancel), Cancelled);
    EXPECT_FALSE(std::filesystem::exists(tmp.path("out.safetensors")));
}

}  // namespace
}  // namespace ms::core::merge
