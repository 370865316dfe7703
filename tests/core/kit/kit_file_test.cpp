// Reading kit files: fields, defaults, relative paths, and each structural mistake named.
#include "core/kit/kit_file.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/errors.h"
#include "tests/test_support.h"

namespace ms::core::kit {
namespace {

std::string write(const test::TempDir& dir, const std::string& text) {
    std::ofstream(dir.path("kit.yaml")) << text;
    return dir.path("kit.yaml");
}

std::string errorOf(const std::string& path) {
    try {
        readKitFile(path);
    } catch (const FormatError& e) {
        return e.what();
    }
    return "";
}

const char* kGood = R"(kit: 1
name: cars-and-dtd
base: models/base.safetensors
layout: hf_clip
architecture: {heads: 12}
preprocess: clip
tasks:
  - name: cars
    expert: models/cars.safetensors
    images: data/cars/train
    eval: data/cars/test.csv
    head: {text: heads/cars_text.safetensors}
  - name: seg
    type: segmentation
    expert: /abs/seg.safetensors
    images: data/seg/images
    targets: data/seg/masks
    classes: 21
    pool: mean
)";

TEST(KitFile, ReadsFieldsDefaultsAndResolvesPaths) {
    test::TempDir dir;
    const KitFile k = readKitFile(write(dir, kGood));
    EXPECT_EQ(k.name, "cars-and-dtd");
    EXPECT_EQ(k.base, dir.path("models/base.safetensors"));
    EXPECT_EQ(k.layout, "hf_clip");
    EXPECT_EQ(k.architecture.at("heads"), "12");
    EXPECT_EQ(k.preprocessPreset, "clip");
    ASSERT_EQ(k.tasks.size(), 2u);
    EXPECT_EQ(k.tasks[0].head.kind, "zeroshot");
    EXPECT_EQ(k.tasks[0].head.file, dir.path("heads/cars_text.safetensors"));
    EXPECT_EQ(k.tasks[0].type, TaskType::Classification);
    EXPECT_EQ(k.tasks[0].dataset, dir.path("data/cars/train"));  // share key: the images
    EXPECT_EQ(k.tasks[1].expert, "/abs/seg.safetensors");
    EXPECT_EQ(k.tasks[1].type, TaskType::Segmentation);
    EXPECT_EQ(k.tasks[1].classes, 21);
    EXPECT_EQ(k.tasks[1].head.pool, "mean");
    const data::Preprocess p = kitPreprocess(k, 3, 224);
    EXPECT_EQ(p.resize, 224);
    EXPECT_EQ(p.crop, 224);
    // Written back and read again: the same kit.
    test::TempDir other;
    std::ofstream(other.path("kit.yaml")) << kitFileYaml(k, dir.dir().string());
    std::filesystem::copy_file(other.path("kit.yaml"), dir.path("again.yaml"));
    const KitFile again = readKitFile(dir.path("again.yaml"));
    EXPECT_EQ(again.base, k.base);
    EXPECT_EQ(again.tasks[0].head.file, k.tasks[0].head.file);
    EXPECT_EQ(again.tasks[1].targets, k.tasks[1].targets);
    EXPECT_EQ(again.tasks[1].classes, 21);
}

TEST(KitFile, MistakesAreNamedWithTheirField) {
    test::TempDir dir;
    struct Case {
        std::string text, needle;
    };
    const std::vector<Case> cases = {
        {"kit: 2\nbase: b\ntasks: [{name: a, expert: e, images: i}]\n", "kit schema 2"},
        {"base: b\ntasks: [{name: a, expert: e, images: i}]\n", "kit: 1"},
        {"kit: 1\ntasks: [{name: a, expert: e, images: i}]\n", "`base` is missing"},
        {"kit: 1\nbase: b\ntasks: []\n", "at least one task"},
        {"kit: 1\nbase: b\ntasks: [{name: a, expet: e, images: i}]\n", "unknown key 'expet'"},
        {"kit: 1\nbase: b\ntasks: [{name: a, images: i}]\n", "tasks[0] (a): `expert` is missing"},
        {"kit: 1\nbase: b\ntasks: [{name: a, expert: e}]\n", "`images` is missing"},
        {"kit: 1\nbase: b\ntasks: [{name: a, expert: e, images: i}, {name: a, expert: e, images: i}]\n", "second task"},
        {"kit: 1\nbase: b\nlayout: vit_h\ntasks: [{name: a, expert: e, images: i}]\n", "layout: unknown 'vit_h'"},
        {"kit: 1\nbase: b\npreprocess: fancy\ntasks: [{name: a, expert: e, images: i}]\n", "preset 'fancy'"},
        {"kit: 1\nbase: b\narchitecture: {heads: many}\ntasks: [{name: a, expert: e, images: i}]\n", "architecture.heads"},
        {"kit: 1\nbase: b\ntasks: [{name: a, expert: e, images: i, type: detection}]\n", "task type 'detection'"},
        {"kit: 1\nbase: b\ntasks: [{name: a, expert: e, images: i, pool: max}]\n", "pool"},
        {"kit: 1\nbase: b\ntasks: [{name: a, expert: e, images: i, targets: t}]\n", "dense tasks"},
        {"kit: 1\nbase: [b\n", "not valid YAML"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        const std::string path = write(dir, c.text);
        const std::string err = errorOf(path);
        EXPECT_NE(err.find(path), std::string::npos) << err;
        EXPECT_NE(err.find(c.needle), std::string::npos) << err;
    }
}

}  // namespace
}  // namespace ms::core::kit
