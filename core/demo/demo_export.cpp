#include "core/demo/demo_export.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/data/image_codec.h"
#include "core/data/mnist_readers.h"
#include "core/data/npy.h"
#include "core/demo/demo_kit.h"
#include "core/errors.h"
#include "core/eval/task_suite.h"
#include "core/io/atomic_file.h"
#include "core/io/cache_paths.h"
#include "core/io/source_factory.h"
#include "core/kit/kit_file.h"
#include "core/model/heads.h"
#include "core/model/param_io.h"
#include "core/model/vit_layouts.h"

namespace ms::core::demo {

namespace fs = std::filesystem;

namespace {

void writeText(const std::string& path, const std::string& text) {
    io::AtomicFile f(path);
    f.writeAll(text.data(), text.size());
    f.commit();
}

std::string number(std::size_t i) {
    std::string s = std::to_string(i);
    return std::string(s.size() < 5 ? 5 - s.size() : 0, '0') + s;
}

data::DecodedImage grey(const data::ImageSet& set, std::size_t i) {
    data::DecodedImage img;
    img.width = static_cast<int>(set.width);
    img.height = static_cast<int>(set.height);
    img.channels = 1;
    img.pixels.assign(set.image(i), set.image(i) + set.imageSize());
    return img;
}

struct Written {
    std::string images, masks, edges;  // folders (or the CSV list for images)
};

// Images of `set` at `which` as an ImageFolder (class-K folders) or a CSV list (in that order),
// with masks and edge maps under the same relative paths.
Written writeSplit(const data::ImageSet& set, const std::vector<std::size_t>& which, const fs::path& root, const std::string& split,
                   bool csv, bool dense, const CancelToken* cancel) {
    Written w;
    const fs::path images = root / split, masks = root / (split + "-masks"), edges = root / (split + "-edges");
    std::string list = "path,label\n";
    for (std::size_t i : which) {
        if (cancel && i % 256 == 0) cancel->throwIfCancelled();
        const std::string rel = csv ? "images/" + number(i) + ".png" : "class-" + std::to_string(set.labels[i]) + "/" + number(i) + ".png";
        fs::create_directories((images / rel).parent_path());
        if (dense)
            for (const auto& dir : {masks, edges}) fs::create_directories((dir / rel).parent_path());
        data::writePng((images / rel).string(), grey(set, i), false);
        if (csv) list += rel + "," + std::to_string(set.labels[i]) + "\n";
        if (!dense) continue;
        data::DecodedImage mask = grey(set, i);
        std::vector<std::int32_t> m(set.imageSize());
        segmentationTarget(set.image(i), static_cast<int>(set.height), static_cast<int>(set.width), m.data());
        for (std::size_t p = 0; p < m.size(); ++p) mask.pixels[p] = static_cast<std::uint8_t>(m[p]);
        data::writePng((masks / rel).string(), mask, false);
        std::vector<float> e(set.imageSize());
        edgeTarget(set.image(i), static_cast<int>(set.height), static_cast<int>(set.width), e.data());
        data::DecodedImage edge;
        edge.width = mask.width;
        edge.height = mask.height;
        edge.channels = 1;
        edge.bits = 16;
        for (float v : e) edge.pixels16.push_back(static_cast<std::uint16_t>(std::lround(std::clamp(v, 0.0f, 1.0f) * 65535.0)));
        data::writePng((edges / rel).string(), edge, false);
    }
    if (csv) {
        writeText((images / (split + ".csv")).string(), list);
        w.images = (images / (split + ".csv")).string();
    } else {
        w.images = images.string();
    }
    w.masks = masks.string();
    w.edges = edges.string();
    return w;
}

// The NYUv2 .npy release's layout: `root/<split>/image/<i>.npy` (i = position in the split),
// the targets under `label/` and `edges/` with the same names, and `list.csv` naming each image
// with its class (the classification tasks read it; dense targets pair with it by file name).
Written writeSplitNpy(const data::ImageSet& set, const std::vector<std::size_t>& which, const fs::path& root, const std::string& split,
                      bool dense, const CancelToken* cancel) {
    const fs::path dir = root / split;
    for (const char* sub : {"image", "label", "edges"})
        if (dense || std::string(sub) == "image") fs::create_directories(dir / sub);
    const auto H = static_cast<std::int64_t>(set.height), W = static_cast<std::int64_t>(set.width);
    const std::size_t plane = set.imageSize();
    std::vector<float> image(plane), label(plane), edges(plane);
    std::vector<std::int32_t> mask(plane);
    std::string list = "path,label\n";
    for (std::size_t k = 0; k < which.size(); ++k) {
        if (cancel && k % 256 == 0) cancel->throwIfCancelled();
        const std::size_t i = which[k];
        const std::string name = std::to_string(k) + ".npy";
        for (std::size_t p = 0; p < plane; ++p) image[p] = static_cast<float>(set.image(i)[p]) / 255.0f;
        data::writeNpy((dir / "image" / name).string(), {H, W, 1}, image.data());
        list += "image/" + name + "," + std::to_string(set.labels[i]) + "\n";
        if (!dense) continue;
        segmentationTarget(set.image(i), static_cast<int>(H), static_cast<int>(W), mask.data());
        for (std::size_t p = 0; p < plane; ++p) label[p] = static_cast<float>(mask[p]);
        data::writeNpy((dir / "label" / name).string(), {H, W}, label.data());
        edgeTarget(set.image(i), static_cast<int>(H), static_cast<int>(W), edges.data());
        data::writeNpy((dir / "edges" / name).string(), {H, W, 1}, edges.data());
    }
    writeText((dir / "list.csv").string(), list);
    return {(dir / "list.csv").string(), (dir / "label").string(), (dir / "edges").string()};
}

}  // namespace

std::string exportDemoKit(const ExportOptions& o, ProgressSink& progress, const CancelToken* cancel) {
    const model::VitLayout layout = model::parseLayout(o.layout);
    if (o.format != "png" && o.format != "npy") throw InvalidArgument("export format '" + o.format + "': png or npy");
    const bool npy = o.format == "npy";
    if (layout == model::VitLayout::HfClip)
        throw InvalidArgument("the demo's encoder has a patch-embedding bias, which the hf_clip layout has no name for: use timm or hf_dinov2");
    std::error_code ec;
    if (fs::exists(o.outDir, ec) && !fs::is_empty(o.outDir, ec))
        throw InvalidArgument(o.outDir + ": the folder exists and is not empty (the export writes a new kit)");
    const KitManifest k = loadKit(o.kitDir, true);
    const KitData data = loadKitData(o.fashionDir.empty() ? data::kFashionMnistDir : o.fashionDir,
                                     o.digitsDir.empty() ? io::digitsDir() : o.digitsDir, k.seed);
    const fs::path out = fs::absolute(o.outDir);
    fs::create_directories(out / "models");
    fs::create_directories(out / "heads");
    progress.report("writing models", 0, k.tasks.size() + 1);
    auto encoder = [&](const std::string& file, model::ParamMap* head) {
        return model::fromCanonical(eval::encoderOnly(model::loadParams(*io::openCheckpoint(k.path(file))), head), layout, k.config);
    };
    model::writeParams((out / "models/base.safetensors").string(), encoder(k.baseFile, nullptr), {{"mergescope.export", "demo base"}});
    const auto& c = k.config;
    nlohmann::ordered_json cfg = {{"model_type", layout == model::VitLayout::HfDinov2 ? "dinov2" : "vit"},
                                  {"hidden_size", c.width},
                                  {"num_hidden_layers", c.depth},
                                  {"num_attention_heads", c.heads},
                                  {"mlp_ratio", c.mlpRatio},
                                  {"patch_size", c.patchSize},
                                  {"image_size", c.imageSize},
                                  {"num_channels", c.channels},
                                  {"hidden_act", kit::activationName(c.activation)},
                                  {"layer_norm_eps", c.eps}};
    writeText((out / "models/config.json").string(), cfg.dump(2) + "\n");
    kit::KitFile kf;
    kf.name = "demo-export-seed" + std::to_string(k.seed);
    kf.base = (out / "models/base.safetensors").string();
    kf.layout = "auto";
    kf.preprocessPreset = "none";
    for (std::size_t i = 0; i < k.tasks.size(); ++i) {
        const auto& t = k.tasks[i];
        model::ParamMap head;
        model::writeParams((out / "models" / (t.task.name + ".safetensors")).string(), encoder(t.expertFile, &head),
                           {{"mergescope.export", "demo expert " + t.task.name}});
        model::writeParams((out / "heads" / (t.task.name + ".safetensors")).string(),
                           {{"weight", head.at("head.weight")}, {"bias", head.at("head.bias")}}, {});
        progress.report("writing models", i + 1, k.tasks.size() + 1);
    }
    // Images: one tree per data set; fashion carries the dense targets of its two dense tasks.
    struct Split {
        std::string dataset;
        const data::ImageSet *train, *test;
        bool dense;
    };
    const std::vector<Split> splits = {{"fashion-mnist", &data.fashionTrain, &data.fashionTest, true},
                                       {"mnist-digits", &data.digitsTrain, &data.digitsTest, false}};
    std::map<std::string, std::pair<Written, Written>> written;
    for (std::size_t s = 0; s < splits.size(); ++s) {
        const Split& sp = splits[s];
        progress.report("writing images", s, splits.size());
        const std::size_t nTrain = std::min<std::size_t>(static_cast<std::size_t>(o.trainImages), static_cast<std::size_t>(sp.train->count));
        const int evalN = o.evalImages > 0 ? o.evalImages : k.budget.evalLimit;
        const std::size_t nTest = evalN > 0 ? std::min<std::size_t>(static_cast<std::size_t>(evalN), static_cast<std::size_t>(sp.test->count))
                                            : static_cast<std::size_t>(sp.test->count);
        const fs::path root = out / "data" / sp.dataset;
        // Training images class-balanced (the digits split is ordered by class); eval images the
        // first of the test split, the images the demo scored its experts on.
        const auto train = eval::drawBalanced(sp.train->labels, sp.train->classes, static_cast<std::size_t>(sp.train->count),
                                              static_cast<int>(nTrain), k.seed);
        std::vector<std::size_t> test(nTest);
        for (std::size_t i = 0; i < nTest; ++i) test[i] = i;
        written[sp.dataset] = npy ? std::make_pair(writeSplitNpy(*sp.train, train, root, "train", sp.dense, cancel),
                                                   writeSplitNpy(*sp.test, test, root, "val", sp.dense, cancel))
                                  : std::make_pair(writeSplit(*sp.train, train, root, "train", false, sp.dense, cancel),
                                                   writeSplit(*sp.test, test, root, "test", true, sp.dense, cancel));
    }
    progress.report("writing images", splits.size(), splits.size());
    for (const auto& t : k.tasks) {
        const auto& [train, test] = written.at(t.task.dataset);
        kit::TaskEntry e;
        e.name = t.task.name;
        e.type = t.task.type;
        e.metric = t.task.metric;
        e.expert = (out / "models" / (t.task.name + ".safetensors")).string();
        e.images = train.images;
        e.eval = test.images;
        e.head.file = (out / "heads" / (t.task.name + ".safetensors")).string();
        e.head.pool = model::poolingName(t.head.pooling);
        e.dataset = e.images;
        if (t.task.type == kit::TaskType::Segmentation) {
            e.targets = train.masks;
            e.evalTargets = test.masks;
            e.classes = t.task.outputs;
            e.head.kind = "dense";
        } else if (t.task.type == kit::TaskType::Regression) {
            e.targets = train.edges;
            e.evalTargets = test.edges;
            e.head.kind = "dense";
        }
        kf.tasks.push_back(e);
    }
    const std::string file = (out / "kit.yaml").string();
    writeText(file, "# The demo kit (seed " + std::to_string(k.seed) + ") exported as a user kit by mergescope-cli demo export.\n" +
                        kit::kitFileYaml(kf, out.string()));
    return file;
}

}  // namespace ms::core::demo
