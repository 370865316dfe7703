// Reading kit files: fields, defaults, relative paths, and each structural mistake named.
#include "core/kit/kit_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

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

// Heads from class names: a file (one a line, or a JSON list) or a YAML list; a named template set
// or a list with {}; round trip through the YAML writer; pickle_allow, text_tower, vocabulary.
TEST(KitFile, HeadsFromClassNamesAndPickleAllow) {
    test::TempDir dir;
    std::ofstream(dir.path("names.txt")) << "  tench \n\ngoldfish\r\ngreat white shark\n";
    std::ofstream(dir.path("names.json")) << R"(["a", "b, c", "d"])";
    const std::string kit = write(dir, R"(kit: 1
base: b.pt
pickle_allow: [src.*, open_clip.*]
text_tower: clip/model.safetensors
vocabulary: clip
tasks:
  - {name: a, expert: a.pt, images: i, head: {classes: names.txt}}
  - {name: b, expert: b.pt, images: i, head: {classes: names.json, templates: simple}}
  - {name: c, expert: c.pt, images: i, head: {classes: [x, y], templates: ["a {} photo", "{}!"]}}
)");
    const KitFile k = readKitFile(kit);
    EXPECT_EQ(k.pickleAllow, (std::vector<std::string>{"src.*", "open_clip.*"}));
    EXPECT_EQ(k.textTower, dir.path("clip/model.safetensors"));
    EXPECT_EQ(k.vocabulary, dir.path("clip"));
    EXPECT_EQ(k.tasks[0].head.classNames, (std::vector<std::string>{"tench", "goldfish", "great white shark"}));
    EXPECT_EQ(k.tasks[0].head.templateSet, "openai");
    EXPECT_EQ(k.tasks[0].head.kind, "zeroshot");
    EXPECT_EQ(k.tasks[1].head.classNames, (std::vector<std::string>{"a", "b, c", "d"}));
    EXPECT_EQ(k.tasks[1].head.templateSet, "simple");
    EXPECT_EQ(k.tasks[2].head.templates, (std::vector<std::string>{"a {} photo", "{}!"}));
    // Written and read back: the same.
    std::ofstream(dir.path("again.yaml")) << kitFileYaml(k, dir.dir().string());
    const KitFile again = readKitFile(dir.path("again.yaml"));
    EXPECT_EQ(again.pickleAllow, k.pickleAllow);
    EXPECT_EQ(again.textTower, k.textTower);
    for (std::size_t t = 0; t < 3; ++t) {
        EXPECT_EQ(again.tasks[t].head.classNames, k.tasks[t].head.classNames);
        EXPECT_EQ(again.tasks[t].head.templates, k.tasks[t].head.templates);
        EXPECT_EQ(again.tasks[t].head.templateSet, k.tasks[t].head.templateSet);
    }
    // Mistakes are named.
    const auto refused = [&](const std::string& head, const std::string& needle) {
        const std::string e = errorOf(write(dir, "kit: 1\nbase: b.pt\ntasks:\n  - {name: a, expert: a.pt, images: i, head: " + head + "}\n"));
        EXPECT_NE(e.find(needle), std::string::npos) << head << " → " << e;
    };
    refused("{classes: [x], templates: fancy}", "fancy");
    refused("{classes: [x], templates: [\"no placeholder\"]}", "{}");
    refused("{classes: [x], text: t.safetensors}", "not both");
    refused("{templates: simple, file: h.pt}", "templates go with `classes`");
    refused("{classes: []}", "no class names");
    EXPECT_NE(errorOf(write(dir, "kit: 1\nbase: b.pt\nprecision: fp16\ntasks:\n  - {name: a, expert: a.pt, images: i}\n")).find("fp16"), std::string::npos);
    EXPECT_EQ(readKitFile(write(dir, "kit: 1\nbase: b.pt\nprecision: bf16\ntasks:\n  - {name: a, expert: a.pt, images: i}\n")).precision, "bf16");
    try {
        readKitFile(write(dir, "kit: 1\nbase: b.pt\ntasks:\n  - {name: a, expert: a.pt, images: i, head: {classes: missing.txt}}\n"));
        FAIL();
    } catch (const IoError& e) {
        EXPECT_NE(std::string(e.what()).find("missing.txt"), std::string::npos);
    }
}

// The 8-task CLIP kits of docs/kits/clip8 read as kit files, with every class-name file.
TEST(KitFile, TheClip8KitsOfTheDocsRead) {
    const KitFile hf = readKitFile(std::string(MS_SOURCE_DIR) + "/docs/kits/clip8/kit-fusionbench.yaml");
    ASSERT_EQ(hf.tasks.size(), 8u);
    const std::map<std::string, std::size_t> classes = {{"sun397", 397}, {"cars", 196}, {"resisc45", 45}, {"eurosat", 10},
                                                        {"svhn", 10},    {"gtsrb", 43}, {"mnist", 10},    {"dtd", 47}};
    for (const auto& t : hf.tasks) {
        EXPECT_EQ(t.head.classNames.size(), classes.at(t.name)) << t.name;
        EXPECT_FALSE(t.head.templates.empty()) << t.name;
    }
    const KitFile tv = readKitFile(std::string(MS_SOURCE_DIR) + "/docs/kits/clip8/kit-task-vectors.yaml");
    EXPECT_EQ(tv.tasks.size(), 8u);
    EXPECT_EQ(tv.pickleAllow, (std::vector<std::string>{"src.*", "open_clip.*", "torchvision.*"}));
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
