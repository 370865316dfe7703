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
    EXPECT_EQ(std::get<std::string>(s.params.at("disjoint")), "sum");          // normalize: false
    EXPECT_EQ(s.lambda.blockCurve, (std::vector<double>{0.5, 1.0}));
    EXPECT_EQ(s.dtype, io::DType::BF16);
    const MergeSpec linear = parseRecipe("merge_method: linear\nmodels:\n  - model: a.pt\n", "", "l.yaml");
    EXPECT_EQ(linear.method, "average");
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
    EXPECT_NE(errorOf("merge_method: ties\nmodels:\n  - model: a\n    parameters: {density: [0.1, 0.2]}\n")
                  .find("'density' must be a single value"),
              std::string::npos);
    EXPECT_NE(errorOf("merge_method: ties\nmodels:\n  - model: a\nparameters: {density: 2}\n").find("r.yaml: parameter 'density'"),
              std::string::npos);
    EXPECT_NE(errorOf("merge_method: ties\nmodels: []\ndtype: int4\n").find("unknown dtype 'int4'"), std::string::npos);
    EXPECT_THROW(loadRecipe("/nonexistent/recipe.yaml"), IoError);
}

}  // namespace
}  // namespace ms::core::merge
