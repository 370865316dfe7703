#include "core/eval/kit_init.h"

#include <filesystem>
#include <map>
#include <set>

#include "core/data/image_list.h"
#include "core/errors.h"
#include "core/eval/zero_shot_heads.h"
#include "core/io/atomic_file.h"
#include "core/model/clip_text.h"
#include "core/model/encoder_weights.h"

namespace ms::core::eval {

namespace fs = std::filesystem;

namespace {

std::string absolute(const std::string& p) { return fs::absolute(fs::path(p)).lexically_normal().string(); }

// The one file of a model folder that holds the weights (HF: model.safetensors, pytorch_model.bin).
std::string weightsFile(const std::string& path) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
        if (!fs::exists(path, ec)) throw IoError(path, "no such file");
        return absolute(path);
    }
    for (const char* n : {"model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin", "open_clip_model.safetensors"})
        if (fs::exists(fs::path(path) / n, ec)) return absolute((fs::path(path) / n).string());
    throw IoError(path, "a model folder without model.safetensors, pytorch_model.bin or open_clip_pytorch_model.bin: give the weights file");
}

std::map<std::string, std::string> byTask(const std::vector<std::pair<std::string, std::string>>& pairs, const char* option,
                                          const std::set<std::string>& tasks) {
    std::map<std::string, std::string> out;
    for (const auto& [task, path] : pairs) {
        if (!tasks.count(task)) throw InvalidArgument(std::string(option) + " " + task + "=...: no expert is named " + task);
        if (!out.emplace(task, path).second) throw InvalidArgument(std::string(option) + " " + task + "=... given twice");
    }
    return out;
}

std::string humanClassName(std::string folder) {
    for (char& c : folder)
        if (c == '_') c = ' ';
    return folder;
}

}  // namespace

KitInitOutcome initKit(const KitInitRequest& r) {
    if (r.out.empty()) throw InvalidArgument("kit init: --out names the kit file to write");
    if (r.base.empty()) throw InvalidArgument("kit init: --base is required");
    if (r.experts.empty()) throw InvalidArgument("kit init: give at least one --expert NAME=FILE");
    std::error_code ec;
    if (fs::exists(r.out, ec) && !r.force) throw IoError(r.out, "exists already (--force replaces it)");
    KitInitOutcome o;
    kit::KitFile& k = o.kit;
    k.path = absolute(r.out);
    k.dir = fs::path(k.path).parent_path().string();
    k.name = r.name.empty() ? fs::path(k.dir).filename().string() : r.name;
    k.base = weightsFile(r.base);
    k.pickleAllow = r.pickleAllow;
    const io::OpenOptions open = kit::kitOpenOptions(k);

    // The layout and architecture, from the base as it is.
    const model::Encoder base = model::loadEncoder(k.base, r.layout, {}, nullptr, open);
    k.layout = model::layoutName(base.found.layout);
    o.notes.push_back("base: " + k.base + " — layout " + k.layout + (base.found.prefix.empty() ? "" : " under '" + base.found.prefix + "'") +
                      ", width " + std::to_string(base.config.width) + ", " + std::to_string(base.config.depth) + " blocks, patch " +
                      std::to_string(base.config.patchSize) + ", " + std::to_string(base.config.imageSize) + " px" +
                      (base.config.projection ? ", projection " + std::to_string(base.config.projection) : ""));
    const bool clip = base.found.layout == model::VitLayout::HfClip || base.found.layout == model::VitLayout::OpenClip;
    k.preprocessPreset = clip ? "clip" : "imagenet";
    o.notes.push_back("preprocessing: " + k.preprocessPreset + (clip ? " (CLIP's mean and std, bicubic)" : " (ImageNet's mean and std)"));

    // Can the base make zero-shot heads from class names?
    std::string textProblem;
    try {
        (void)model::findTextTower(base.others, k.base, model::configJsonFor(k.base));  // the tensors outside the encoder
        (void)findVocabulary(k, k.base);
    } catch (const Error& e) {
        textProblem = e.what();
    }

    std::set<std::string> names;
    for (const auto& [task, file] : r.experts)
        if (!names.insert(task).second) throw InvalidArgument("--expert " + task + "=... given twice");
    const auto images = byTask(r.images, "--images", names), evals = byTask(r.eval, "--eval", names);
    const auto classes = byTask(r.classes, "--classes", names), heads = byTask(r.heads, "--head", names);
    for (const auto& [task, file] : r.experts) {
        kit::TaskEntry t;
        t.name = task;
        t.expert = weightsFile(file);
        const auto img = images.find(task);
        if (img == images.end()) throw InvalidArgument("task " + task + ": --images " + task + "=DIR is missing (the probe images)");
        t.images = absolute(img->second);
        t.dataset = t.images;
        const data::ImageList list = data::listImages(t.images);
        if (const auto ev = evals.find(task); ev != evals.end()) t.eval = absolute(ev->second);
        std::string head;
        if (const auto c = classes.find(task); c != classes.end()) {
            t.head.classesFile = absolute(c->second);
            t.head.classNames = kit::readClassNames(t.head.classesFile);
            t.head.kind = "zeroshot";
            t.head.templateSet = r.templates;
            head = "zero-shot from the " + std::to_string(t.head.classNames.size()) + " class names of " + t.head.classesFile;
        } else if (const auto h = heads.find(task); h != heads.end()) {
            t.head.file = absolute(h->second);
            head = "the head in " + t.head.file;
        } else if (!list.classNames.empty() && textProblem.empty() && clip) {
            for (const auto& n : list.classNames) t.head.classNames.push_back(humanClassName(n));
            t.head.kind = "zeroshot";
            t.head.templateSet = r.templates;
            head = "zero-shot from the " + std::to_string(list.classNames.size()) + " class folders of " + t.images;
        } else {
            head = "the expert's own, if it has one (no --classes or --head given" +
                   std::string(clip && !list.classNames.empty() ? "; class folders found, but " + textProblem : "") + ")";
        }
        o.notes.push_back("task " + task + ": " + std::to_string(list.count()) + " images (" + list.kind + "), head " + head);
        k.tasks.push_back(std::move(t));
    }
    o.yaml = "# Written by mergescope-cli kit init; check it with: mergescope-cli kit check " + fs::path(k.path).filename().string() + "\n" +
             kit::kitFileYaml(k, k.dir) + "\n";
    fs::create_directories(k.dir, ec);
    io::AtomicFile out(k.path);
    out.writeAll(o.yaml.data(), o.yaml.size());
    out.commit();
    return o;
}

}  // namespace ms::core::eval
