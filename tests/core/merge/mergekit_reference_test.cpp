// mergekit recipes run by MergeScope equal what mergekit 0.1.x computes: expected tensors from
// tests/fixtures/mergekit/make_mergekit_fixtures.py (numpy, following mergekit's code paths), on
// tests/fixtures/merge's base and experts. DARE and DELLA draw torch's RNG in mergekit, so their
// masks cannot match; their defining properties are checked instead (each tensor's L1 norm kept,
// survivors are τ times one factor, the keep rate).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/io/source_factory.h"
#include "core/merge/merge_engine.h"
#include "core/merge/recipe.h"
#include "tests/test_support.h"

namespace ms::core::merge {
namespace {

std::vector<nlohmann::json> loadCases() {
    std::ifstream in(test::fixture("mergekit/cases.json"));
    return nlohmann::json::parse(in).at("cases").get<std::vector<nlohmann::json>>();
}

class MergekitReference : public ::testing::TestWithParam<nlohmann::json> {};

TEST_P(MergekitReference, MatchesMergekitsComputation) {
    const auto& c = GetParam();
    const MergeSpec spec = parseRecipe(c.at("recipe").get<std::string>(), test::fixture("mergekit"), "recipe");
    MergeEngine engine(spec);
    const auto merged = engine.applyToMemory(-1);
    const auto expected = io::openCheckpoint(test::fixture("mergekit/expected_" + c.at("name").get<std::string>() + ".safetensors"));
    const auto& plan = engine.problem().plan();
    ASSERT_EQ(plan.merged.size(), expected->tensors().size()) << "every tensor the models share is merged";
    for (std::size_t i = 0; i < plan.merged.size(); ++i) {
        const auto want = expected->loadFloat32(plan.merged[i].name);
        ASSERT_EQ(merged[i].size(), want.size()) << plan.merged[i].name;
        for (std::size_t j = 0; j < want.size(); ++j)
            ASSERT_NEAR(merged[i][j], want[j], 1e-5) << plan.merged[i].name << "[" << j << "]";
    }
}

INSTANTIATE_TEST_SUITE_P(Recipes, MergekitReference, ::testing::ValuesIn(loadCases()),
                         [](const auto& info) { return info.param.at("name").template get<std::string>(); });

// DARE (mergekit's `rescale: true`): each tensor keeps its L1 norm; every survivor is τ times the
// same factor; about `density` of the entries survive. `rescale: false`: survivors are τ itself.
TEST(MergekitProperties, DareAndDellaKeepEachTensorsL1Norm) {
    const std::string head = "base_model: ../merge/base.safetensors\nmodels:\n  - model: ../merge/expert_1.safetensors\n";
    const auto base = io::openCheckpoint(test::fixture("merge/base.safetensors"));
    const auto expert = io::openCheckpoint(test::fixture("merge/expert_1.safetensors"));
    for (const std::string method : {"dare_linear", "della_linear"}) {
        for (const bool rescale : {true, false}) {
            SCOPED_TRACE(method + (rescale ? " rescale" : " no rescale"));
            const MergeSpec spec = parseRecipe("merge_method: " + method + "\n" + head + "parameters: {weight: 1.0, density: 0.5" +
                                                   (method == "della_linear" ? ", epsilon: 0.2" : "") +
                                                   (rescale ? "" : ", rescale: false") + "}\n",
                                               test::fixture("mergekit"), "r.yaml");
            MergeEngine engine(spec);
            const auto merged = engine.applyToMemory(-1);
            std::size_t kept = 0, total = 0;
            for (std::size_t i = 0; i < engine.problem().plan().merged.size(); ++i) {
                const auto& name = engine.problem().plan().merged[i].name;
                if (engine.problem().plan().merged[i].numel < 20) continue;  // too few entries to keep any for sure
                const auto b = base->loadFloat32(name), e = expert->loadFloat32(name);
                double before = 0, after = 0, factor = 0;
                for (std::size_t j = 0; j < b.size(); ++j) {
                    const double tau = static_cast<double>(e[j]) - b[j], got = static_cast<double>(merged[i][j]) - b[j];
                    before += std::fabs(tau);
                    after += std::fabs(got);
                    if (std::fabs(got) > 1e-7) {
                        ++kept;
                        if (factor == 0) factor = got / tau;
                        EXPECT_NEAR(got / tau, factor, 1e-3) << name << "[" << j << "]: one factor per tensor";
                    }
                }
                total += b.size();
                if (rescale) EXPECT_NEAR(after, before, 1e-4 * before) << name << ": L1 norm kept";
                else EXPECT_NEAR(factor, 1.0, 1e-3) << name;
            }
            EXPECT_NEAR(static_cast<double>(kept) / static_cast<double>(total), 0.5, 0.1) << "about `density` survive";
        }
    }
}

// mergekit's TIES keeps exactly ⌊k·n⌋ entries per tensor and stops when that is 0.
TEST(MergekitProperties, TiesKeepsExactlyFloorKnAndRefusesAnEmptyTensor) {
    const std::string head = "base_model: ../merge/base.safetensors\nmodels:\n  - model: ../merge/expert_0.safetensors\n";
    MergeEngine engine(parseRecipe("merge_method: ties\n" + head + "parameters: {weight: 1.0, density: 0.3}\n", test::fixture("mergekit"), "r"));
    const auto merged = engine.applyToMemory(-1);
    const auto base = io::openCheckpoint(test::fixture("merge/base.safetensors"));
    for (std::size_t i = 0; i < merged.size(); ++i) {
        const auto& t = engine.problem().plan().merged[i];
        const auto b = base->loadFloat32(t.name);
        std::size_t changed = 0;
        for (std::size_t j = 0; j < b.size(); ++j) changed += merged[i][j] != b[j];
        EXPECT_LE(changed, static_cast<std::size_t>(0.3 * static_cast<double>(t.numel))) << t.name;
        EXPECT_GE(changed + 2, static_cast<std::size_t>(0.3 * static_cast<double>(t.numel))) << t.name << " (τ = 0 entries stay)";
    }
    // The official convention's thresholds take one density per model: a per-tensor one is refused.
    MergeSpec official = parseRecipe("merge_method: ties\n" + head + "parameters: {weight: 1.0, convention: official, density: [0.2, 0.5]}\n",
                                     test::fixture("mergekit"), "r");
    try {
        MergeEngine(official).applyToMemory(-1);
        ADD_FAILURE() << "per-tensor density with the official thresholds merged";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("needs convention mergekit"), std::string::npos) << e.what();
    }
    MergeEngine empty(parseRecipe("merge_method: ties\n" + head + "parameters: {weight: 1.0, density: 0.01}\n", test::fixture("mergekit"), "r"));
    try {
        empty.applyToMemory(-1);
        ADD_FAILURE() << "density·numel < 1 merged";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("keeps no entry of tensor"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace ms::core::merge

namespace ms::core::merge {
namespace {

// The example recipes of docs/recipes (mergekit's format) run on the merge fixtures as they are.
TEST(MergekitRecipes, TheDocumentedExamplesRun) {
    const std::string dir = std::string(MS_SOURCE_DIR) + "/docs/recipes";
    std::size_t count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".yaml") continue;
        SCOPED_TRACE(entry.path().filename().string());
        std::ifstream in(entry.path());
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        MergeEngine engine(parseRecipe(text, test::fixture("merge"), entry.path().string()));
        const auto merged = engine.applyToMemory(-1);
        const auto base = io::openCheckpoint(test::fixture("merge/base.safetensors"));
        double moved = 0;
        for (std::size_t i = 0; i < merged.size(); ++i) {
            const auto& name = engine.problem().plan().merged[i].name;
            if (!base->find(name)) continue;
            const auto b = base->loadFloat32(name);
            for (std::size_t j = 0; j < b.size(); ++j) {
                ASSERT_TRUE(std::isfinite(merged[i][j])) << name;
                moved += std::fabs(merged[i][j] - b[j]);
            }
        }
        EXPECT_GT(moved, 0.0);
        ++count;
    }
    EXPECT_GE(count, 9u);
    // dare_ties without density is TIES' election alone: ties at density 1 with the sum.
    const auto load = [](const std::string& path) {
        std::ifstream in(path);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    const auto dare = MergeEngine(parseRecipe(load(dir + "/dare_ties_no_density.yaml"), test::fixture("merge"), "d")).applyToMemory(-1);
    std::string ties = load(dir + "/dare_ties_no_density.yaml");
    ties.replace(ties.find("merge_method: dare_ties"), 23, "merge_method: ties");
    ties += "parameters: {normalize: false}\n";
    const auto reference = MergeEngine(parseRecipe(ties, test::fixture("merge"), "t")).applyToMemory(-1);
    ASSERT_EQ(dare.size(), reference.size());
    for (std::size_t i = 0; i < dare.size(); ++i) EXPECT_EQ(dare[i], reference[i]);
}

}  // namespace
}  // namespace ms::core::merge
