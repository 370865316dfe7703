// YAML recipes: lossless round trips, mergekit recipes meaning what mergekit means, and errors
// naming the recipe and the field.
#include "core/merge/recipe.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/errors.h"
#include "tests/test_support.h"

namespace ms::core::merge {
namespace {

TEST(Recipe, SaveThenLoadIsLossless) {
    MergeSpec s;
    s.method = "ties";
    s.base = "/models/base.safetensors";
    s.models = {{"/models/a.pt", "fashion-class", {{"weight", 0.7}, {"density", 0.3}}, ""},
                {"/models/b.pt", "digits-class", {{"weight", 1.3}}, ""}};
    s.params = {{"lambda", 0.8}, {"topk_scope", std::string("global")}, {"disjoint", std::string("sum")}};
    s.lambda.blockCurve = {0.2, 1.0};
    s.lambda.overrides = {{R"(^norm\.)", 0.0}};
    s.filter.exclude = {"pos_embed"};
    s.filter.excludeHeads = false;
    s.dtype = io::DType::BF16;
    s.open.torch.key = "state_dict";
    const std::string text = saveRecipe(s);
    const MergeSpec back = parseRecipe(text, "", "saved.yaml");
    EXPECT_EQ(back.method, s.method);
    EXPECT_EQ(back.base, s.base);
    ASSERT_EQ(back.models.size(), 2u);
    EXPECT_EQ(back.models[0].task, "fashion-class");
    EXPECT_EQ(std::get<double>(back.models[0].params.at("density")), 0.3);
    EXPECT_EQ(std::get<double>(back.models[1].params.at("weight")), 1.3);
    EXPECT_EQ(std::get<double>(back.params.at("lambda")), 0.8);
    EXPECT_EQ(std::get<std::string>(back.params.at("disjoint")), "sum");
    EXPECT_EQ(std::get<std::string>(back.params.at("topk_scope")), "global");
    EXPECT_EQ(back.lambda.blockCurve, s.lambda.blockCurve);
    EXPECT_EQ(back.lambda.overrides, s.lambda.overrides);
    EXPECT_EQ(back.filter.exclude, s.filter.exclude);
    EXPECT_FALSE(back.filter.excludeHeads);
    EXPECT_EQ(back.dtype, io::DType::BF16);
    EXPECT_EQ(back.open.torch.key, "state_dict");
    EXPECT_EQ(saveRecipe(back), text) << "a second round trip changes nothing";
}

TEST(Recipe, AMergekitRecipeMeansWhatMergekitMeans) {
    test::TempDir tmp;
    const std::string path = tmp.path("ties.yaml");
    std::ofstream(path) << R"(merge_method: ties
base_model: base.safetensors
models:
  - model: base.safetensors
  - model: experts/a.safetensors
    parameters:
      density: 0.5
      weight: 0.7
  - model: experts/b.safetensors
    parameters: {density: 0.5, weight: 0.3}
parameters:
  normalize: false
  int8_mask: true
  lambda: [0.5, 1.0]
dtype: bfloat16
)";
    const MergeSpec s = loadRecipe(path);
    EXPECT_EQ(s.method, "ties");
    EXPECT_EQ(s.base, tmp.path("base.safetensors"));
    ASSERT_EQ(s.models.size(), 2u) << "the base listed among the models is the base";
    EXPECT_EQ(s.models[0].path, tmp.path("experts/a.safetensors"));
    EXPECT_EQ(std::get<std::string>(s.params.at("topk_scope")), "per_tensor");  // mergekit sparsifies per tensor
    EXPECT_EQ(std::get<std::string>(s.params.at("convention")), "mergekit");    // exactly ⌊k·n⌋, + for sign ties
    EXPECT_EQ(std::get<double>(s.params.at("density")), 1.0);                   // mergekit's default, under the models' 0.5
    EXPECT_EQ(std::get<std::string>(s.params.at("disjoint")), "sum");          // normalize: false
    ASSERT_EQ(s.rules.size(), 1u);                                              // λ's gradient, over the depth
    EXPECT_EQ(s.rules[0], (TensorRule{"lambda", -1, "", {0.5, 1.0}}));
    EXPECT_TRUE(s.lambda.blockCurve.empty());
    EXPECT_EQ(s.dtype, io::DType::BF16);         // saved in it (no out_dtype)
    EXPECT_EQ(s.computeDtype, io::DType::BF16);  // and computed in it, as mergekit
    EXPECT_FALSE(s.filter.excludeHeads) << "mergekit merges every tensor the models share";
    const MergeSpec linear = parseRecipe("merge_method: linear\nmodels:\n  - model: a.pt\n  - model: b.pt\n", "", "l.yaml");
    EXPECT_EQ(linear.method, "average");
    EXPECT_EQ(linear.base, "a.pt") << "linear without a base: the first model stands in for the tensor names";
    EXPECT_EQ(linear.models.size(), 2u);
    const MergeSpec withBase =
        parseRecipe("merge_method: linear\nbase_model: base.pt\nmodels:\n  - model: a.pt\nparameters: {weight: 0.5}\n", "", "l.yaml");
    ASSERT_EQ(withBase.models.size(), 2u) << "mergekit averages the base in as one more model";
    EXPECT_EQ(withBase.models[1].path, "base.pt");
    // Filter lists and gradients on any numeric parameter; a trailing unfiltered value is the fallback.
    const MergeSpec rules = parseRecipe(R"(merge_method: dare_ties
base_model: base.pt
models:
  - model: a.pt
    parameters:
      weight: [{filter: attn, value: [0.2, 0.8]}, {value: 0.5}]
  - model: b.pt
parameters: {density: [0.3, 0.9], weight: 1}
)", "", "r.yaml");
    ASSERT_EQ(rules.rules.size(), 2u);
    EXPECT_EQ(rules.rules[0], (TensorRule{"weight", 0, "attn", {0.2, 0.8}}));
    EXPECT_EQ(std::get<double>(rules.models[0].params.at("weight")), 0.5);
    EXPECT_EQ(rules.rules[1], (TensorRule{"density", -1, "", {0.3, 0.9}}));
    // Saved and read back: the same recipe (rules, compute dtype and all).
    for (const MergeSpec* spec : {&rules, &s}) {
        const MergeSpec again = parseRecipe(saveRecipe(*spec), "", "again.yaml");
        EXPECT_EQ(saveRecipe(again), saveRecipe(*spec));
        EXPECT_EQ(again.rules, spec->rules);
        EXPECT_EQ(again.computeDtype, spec->computeDtype);
    }
    // A mergescope: section without a version changes no default (it used to switch TIES to global top-k).
    const std::string plain = "merge_method: ties\nbase_model: b.pt\nmodels:\n  - model: a.pt\n";
    EXPECT_TRUE(sameSettings(parseRecipe(plain, "", "p.yaml"), parseRecipe(plain + "mergescope: {checkpoint_key: ''}\n", "", "p.yaml")));
    // A version-1 recipe (saved before mergekit parity) keeps MergeScope's defaults.
    const MergeSpec v1 = parseRecipe(plain + "parameters: {density: 0.2}\nmergescope: {version: 1, exclude_heads: true}\n", "", "v1.yaml");
    EXPECT_EQ(v1.params.count("convention"), 0u);
    EXPECT_TRUE(v1.filter.excludeHeads);
}

TEST(Recipe, ErrorsNameTheRecipeAndTheField) {
    auto errorOf = [](const std::string& yaml) {
        try {
            parseRecipe(yaml, "", "r.yaml");
        } catch (const InvalidArgument& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    EXPECT_NE(errorOf("merge_method: [").find("r.yaml: invalid YAML"), std::string::npos);
    EXPECT_NE(errorOf("models: []").find("missing 'merge_method'"), std::string::npos);
    EXPECT_NE(errorOf("merge_method: frankenmerge\nmodels: []").find("unknown merge method 'frankenmerge'"),
              std::string::npos);
    EXPECT_NE(errorOf("merge_method: ties\nmodels:\n  - model: a\n    parameters: {density: [{filter: x}]}\n")
                  .find("'density': each entry of a filter list needs 'value'"),
              std::string::npos);
    EXPECT_NE(errorOf("merge_method: ties\nmodels:\n  - model: a\nparameters: {lambda: [0.5, 200]}\n").find("r.yaml: parameter 'lambda'"),
              std::string::npos);
    EXPECT_NE(errorOf("merge_method: ties\nmodels:\n  - model: a\n    parameters: {lambda: [0.5, 1]}\n")
                  .find("applies to the whole merge"),
              std::string::npos);
    EXPECT_NE(errorOf("merge_method: ties\nmodels:\n  - model: a\nparameters: {normalize: maybe}\n").find("takes true or false"),
              std::string::npos);
    EXPECT_NE(errorOf("merge_method: ties\nslices: []\nmodels: []\n").find("'slices'"), std::string::npos);
    // Only parameters a method reads tensor by tensor take filter lists or gradients; the others
    // are refused rather than silently taking one value.
    EXPECT_NE(errorOf("merge_method: iso_cts\nmodels:\n  - model: a\nparameters: {common_fraction: [0.5, 0.9]}\n")
                  .find("'common_fraction' of 'iso_cts' takes one value for the whole merge"),
              std::string::npos);
    EXPECT_NE(errorOf("merge_method: pcb\nmodels:\n  - model: a\nparameters: {density: [{filter: mlp, value: 0.2}, {value: 0.1}]}\n")
                  .find("takes one value for the whole merge (per model)"),
              std::string::npos);
    EXPECT_NE(errorOf("merge_method: ties\nmodels: []\ndtype: int4\n").find("unknown dtype 'int4'"), std::string::npos);
    EXPECT_THROW(loadRecipe("/nonexistent/recipe.yaml"), IoError);
}

}  // namespace
}  // namespace ms::core::merge
