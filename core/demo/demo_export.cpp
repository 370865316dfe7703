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
#include "core/eval/task_batches.h"
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
    std::string images;  // a folder, or the CSV list
    std::string segmentation, depth, normals;  // folders of target maps (dense data sets)
    const std::string& targets(kit::TaskType t) const {
        return t == kit::TaskType::Segmentation ? segmentation : t == kit::TaskType::Depth ? depth : normals;
    }
};

// One image's dense targets as the demo stores them (demo_tasks.h).
struct Maps {
    std::vector<std::uint8_t> segmentation, normals;
    std::vector<float> depth;
    Maps(const data::ImageSet& set, std::size_t i) : segmentation(set.imageSize()), normals(3 * set.imageSize()), depth(set.imageSize()) {
        const int h = static_cast<int>(set.height), w = static_cast<int>(set.width);
        segmentationTarget(set.image(i), set.labels[i], h, w, segmentation.data());
        depthTarget(set.image(i), h, w, depth.data());
        normalsTarget(set.image(i), h, w, normals.data());
    }
};

data::DecodedImage png(int width, int height, int channels, const std::uint8_t* pixels) {
    data::DecodedImage img;
    img.width = width;
    img.height = height;
    img.channels = channels;
    img.pixels.assign(pixels, pixels + static_cast<std::size_t>(width * height * channels));
    return img;
}

// Images of `set` at `which` as an ImageFolder (class-K folders) or a CSV list (in that order),
// with the dense targets under the same relative paths as the field's PNGs store them: masks
// 8-bit (255 unlabelled), depth 16-bit millimetres (0 invalid), normals 8-bit RGB (black invalid).
Written writeSplit(const data::ImageSet& set, const std::vector<std::size_t>& which, const fs::path& root, const std::string& split,
                   bool csv, bool dense, const CancelToken* cancel) {
    Written w;
    const fs::path images = root / split;
    const fs::path seg = root / (split + "-segmentation"), depth = root / (split + "-depth"), normals = root / (split + "-normals");
    const int W = static_cast<int>(set.width), H = static_cast<int>(set.height);
    std::string list = "path,label\n";
    for (std::size_t i : which) {
        if (cancel && i % 256 == 0) cancel->throwIfCancelled();
        const std::string rel = csv ? "images/" + number(i) + ".png" : "class-" + std::to_string(set.labels[i]) + "/" + number(i) + ".png";
        fs::create_directories((images / rel).parent_path());
        data::writePng((images / rel).string(), grey(set, i), false);
        if (csv) list += rel + "," + std::to_string(set.labels[i]) + "\n";
        if (!dense) continue;
        for (const auto& dir : {seg, depth, normals}) fs::create_directories((dir / rel).parent_path());
        const Maps m(set, i);
        data::writePng((seg / rel).string(), png(W, H, 1, m.segmentation.data()), false);
        data::writePng((normals / rel).string(), png(W, H, 3, m.normals.data()), false);
        data::DecodedImage mm;
        mm.width = W;
        mm.height = H;
        mm.channels = 1;
        mm.bits = 16;
        for (float v : m.depth) mm.pixels16.push_back(static_cast<std::uint16_t>(std::lround(std::clamp(v * 1000.0f, 0.0f, 65535.0f))));
        data::writePng((depth / rel).string(), mm, false);
    }
    if (csv) {
        writeText((images / (split + ".csv")).string(), list);
        w.images = (images / (split + ".csv")).string();
    } else {
        w.images = images.string();
    }
    if (dense) w = {w.images, seg.string(), depth.string(), normals.string()};
    return w;
}

// The NYUv2 .npy release's layout: `root/<split>/image/<i>.npy` (i = position in the split),
// float images H×W×1 in [0, 1]; `label/` H×W classes with -1 unlabelled, `depth/` H×W×1 metres
// with 0 invalid, `normal/` H×W×3 unit vectors with the zero vector invalid, under the same
// names; and `list.csv` naming each image with its class (the classification tasks read it;
// dense targets pair with it by file name).
Written writeSplitNpy(const data::ImageSet& set, const std::vector<std::size_t>& which, const fs::path& root, const std::string& split,
                      bool dense, const CancelToken* cancel) {
    const fs::path dir = root / split;
    for (const char* sub : {"image", "label", "depth", "normal"})
        if (dense || std::string(sub) == "image") fs::create_directories(dir / sub);
    const auto H = static_cast<std::int64_t>(set.height), W = static_cast<std::int64_t>(set.width);
    const std::size_t plane = set.imageSize();
    std::vector<float> image(plane), label(plane), normal(3 * plane);
    std::string list = "path,label\n";
    for (std::size_t k = 0; k < which.size(); ++k) {
        if (cancel && k % 256 == 0) cancel->throwIfCancelled();
        const std::size_t i = which[k];
        const std::string name = std::to_string(k) + ".npy";
        for (std::size_t p = 0; p < plane; ++p) image[p] = static_cast<float>(set.image(i)[p]) / 255.0f;
        data::writeNpy((dir / "image" / name).string(), {H, W, 1}, image.data());
        list += "image/" + name + "," + std::to_string(set.labels[i]) + "\n";
        if (!dense) continue;
        const Maps m(set, i);
        for (std::size_t p = 0; p < plane; ++p) label[p] = m.segmentation[p] == kUnlabelled ? -1.0f : static_cast<float>(m.segmentation[p]);
        data::writeNpy((dir / "label" / name).string(), {H, W}, label.data());
        data::writeNpy((dir / "depth" / name).string(), {H, W, 1}, m.depth.data());
        // The vectors the 8-bit codes stand for, code / 255 · 2 − 1 (unit length to within the
        // codes' rounding, made unit by the reader as the codes are; black: the zero vector).
        const at::Tensor codes = at::from_blob(const_cast<std::uint8_t*>(m.normals.data()), {H, W, 3}, at::kByte).to(at::kFloat);
        const at::Tensor n = (codes / 255.0f * 2.0f - 1.0f).masked_fill(codes.eq(0).all(2, true), 0.0f).contiguous();
        data::writeNpy((dir / "normal" / name).string(), {H, W, 3}, n.data_ptr<float>());
    }
    writeText((dir / "list.csv").string(), list);
    return {(dir / "list.csv").string(), (dir / "label").string(), (dir / "depth").string(), (dir / "normal").string()};
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
        model::ParamMap headFile = {{"weight", head.at("head.weight")}, {"bias", head.at("head.bias")}};
        for (const char* stat : {"weight", "bias", "running_mean", "running_var"})  // a probe's batch norm, if any
            if (const auto it = head.find(std::string("head.bn.") + stat); it != head.end()) headFile[std::string("bn.") + stat] = it->second;
        model::writeParams((out / "heads" / (t.task.name + ".safetensors")).string(), headFile, {});
        progress.report("writing models", i + 1, k.tasks.size() + 1);
    }
    // Images: one tree per data set; fashion carries the dense targets of its three dense tasks.
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
        if (kit::isDense(t.task.type)) {
            e.targets = train.targets(t.task.type);
            e.evalTargets = test.targets(t.task.type);
            if (t.task.type == kit::TaskType::Segmentation) e.classes = t.task.outputs;
            e.head.kind = t.head.kind == model::HeadKind::DenseProbe ? "dense_probe" : "dense_patch";
            e.head.layers = t.head.layers;
        }
        kf.tasks.push_back(e);
    }
    const std::string file = (out / "kit.yaml").string();
    writeText(file, "# The demo kit (seed " + std::to_string(k.seed) + ") exported as a user kit by mergescope-cli demo export.\n" +
                        kit::kitFileYaml(kf, out.string()));
    return file;
}

}  // namespace ms::core::demo
