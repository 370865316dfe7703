#include "core/kit/kit_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "core/text/clip_tokenizer.h"

namespace ms::core::kit {

namespace fs = std::filesystem;

namespace {

std::string joinKeys(const std::vector<std::string>& keys) {
    std::string s;
    for (const auto& k : keys) s += (s.empty() ? "" : ", ") + k;
    return s;
}

void checkKeys(const YAML::Node& map, const std::vector<std::string>& known, const std::string& file, const std::string& where) {
    for (const auto& kv : map) {
        const std::string key = kv.first.as<std::string>();
        if (std::find(known.begin(), known.end(), key) == known.end())
            throw FormatError(file, where + "unknown key '" + key + "' (" + joinKeys(known) + ")");
    }
}

std::string scalar(const YAML::Node& n, const std::string& file, const std::string& where) {
    if (!n.IsScalar()) throw FormatError(file, where + "must be a single value");
    return n.as<std::string>();
}

std::string resolve(const std::string& dir, const std::string& p) {
    if (p.empty()) return p;
    const fs::path path(p);
    return (path.is_absolute() ? path : fs::path(dir) / path).lexically_normal().string();
}

std::string relativeTo(const std::string& p, const std::string& dir) {
    if (p.empty() || dir.empty()) return p;
    const fs::path rel = fs::path(p).lexically_relative(fs::path(dir));
    if (rel.empty() || rel.string().starts_with("..")) return p;
    return rel.string();
}

std::vector<float> floats(const YAML::Node& n, const std::string& file, const std::string& where) {
    std::vector<float> v;
    if (n.IsScalar()) {
        v.push_back(n.as<float>());
        return v;
    }
    if (!n.IsSequence()) throw FormatError(file, where + "must be a number or a list of numbers");
    for (const auto& x : n) v.push_back(x.as<float>());
    return v;
}

data::Preprocess readPreprocess(const YAML::Node& n, const std::string& file) {
    static const std::vector<std::string> keys = {"preset", "resize", "crop", "channels", "mean", "std", "interpolation"};
    checkKeys(n, keys, file, "preprocess: ");
    data::Preprocess p = data::preprocessPreset(n["preset"] ? n["preset"].as<std::string>() : "none", 3, 0);
    p.preset = "custom";
    if (n["resize"]) p.resize = n["resize"].as<int>();
    if (n["crop"]) p.crop = n["crop"].as<int>();
    if (n["channels"]) p.channels = n["channels"].as<int>();
    if (n["interpolation"]) p.interpolation = data::parseInterpolation(n["interpolation"].as<std::string>());
    if (n["mean"]) p.mean = floats(n["mean"], file, "preprocess.mean ");
    if (n["std"]) p.std = floats(n["std"], file, "preprocess.std ");
    if (p.mean.size() == 1 && p.channels == 3) p.mean.assign(3, p.mean[0]);
    if (p.std.size() == 1 && p.channels == 3) p.std.assign(3, p.std[0]);
    if (p.mean.size() != static_cast<std::size_t>(p.channels)) p.mean.assign(static_cast<std::size_t>(p.channels), p.mean.empty() ? 0.5f : p.mean[0]);
    if (p.std.size() != static_cast<std::size_t>(p.channels)) p.std.assign(static_cast<std::size_t>(p.channels), p.std.empty() ? 0.5f : p.std[0]);
    return p;
}

}  // namespace

std::vector<std::string> readClassNames(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(path, "cannot open the class names");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::vector<std::string> names;
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && text[first] == '[') {  // a JSON list, or a YAML flow list
        YAML::Node list;
        try {
            list = YAML::Load(text);
        } catch (const YAML::Exception& e) {
            throw FormatError(path, std::string("not a list of class names: ") + e.what());
        }
        if (!list.IsSequence()) throw FormatError(path, "not a list of class names");
        for (const auto& v : list) {
            if (!v.IsScalar()) throw FormatError(path, "class " + std::to_string(names.size()) + " is not a string");
            names.push_back(v.as<std::string>());
        }
    } else {  // one name per line; blank lines skipped; surrounding spaces trimmed
        std::istringstream lines(text);
        std::string line;
        while (std::getline(lines, line)) {
            const auto a = line.find_first_not_of(" \t\r"), b = line.find_last_not_of(" \t\r");
            if (a != std::string::npos) names.push_back(line.substr(a, b - a + 1));
        }
    }
    if (names.empty()) throw FormatError(path, "no class names in the file");
    return names;
}

namespace {

HeadSpec readHead(const YAML::Node& n, const std::string& dir, const std::string& file, const std::string& where) {
    HeadSpec h;
    if (n.IsScalar()) {
        h.file = resolve(dir, n.as<std::string>());
        return h;
    }
    if (!n.IsMap()) throw FormatError(file, where + "head: give a file, or a map {file | text | classes, kind, pool, layers, templates}");
    checkKeys(n, {"file", "text", "kind", "pool", "layers", "classes", "templates"}, file, where + "head: ");
    if (n["classes"]) {
        if (n["file"] || n["text"]) throw FormatError(file, where + "head: `classes` makes the head from class names; `file` / `text` give one: not both");
        h.kind = "zeroshot";
        const YAML::Node c = n["classes"];
        if (c.IsScalar()) {
            h.classesFile = resolve(dir, c.as<std::string>());
            h.classNames = readClassNames(h.classesFile);
        } else if (c.IsSequence()) {
            for (const auto& v : c) {
                if (!v.IsScalar()) throw FormatError(file, where + "head.classes: a list of class names (strings)");
                h.classNames.push_back(v.as<std::string>());
            }
        } else {
            throw FormatError(file, where + "head.classes: a file of class names or a list of them");
        }
        if (h.classNames.empty()) throw FormatError(file, where + "head.classes: no class names");
        const YAML::Node t = n["templates"];
        if (!t || t.IsScalar()) {
            h.templateSet = t ? t.as<std::string>() : "openai";
            try {
                text::templateSet(h.templateSet);
            } catch (const InvalidArgument& e) {
                throw FormatError(file, where + "head.templates: " + e.what());
            }
        } else if (t.IsSequence()) {
            for (const auto& v : t) {
                const std::string s = v.IsScalar() ? v.as<std::string>() : "";
                if (s.find("{}") == std::string::npos)
                    throw FormatError(file, where + "head.templates: each template holds {} where the class name goes ('" + s + "' does not)");
                h.templates.push_back(s);
            }
            if (h.templates.empty()) throw FormatError(file, where + "head.templates: an empty list");
        } else {
            throw FormatError(file, where + "head.templates: a template set's name (" + joinKeys(text::templateSetNames()) + ") or a list of templates");
        }
    } else if (n["templates"]) {
        throw FormatError(file, where + "head.templates: templates go with `classes` (a zero-shot head from class names)");
    }
    if (n["text"]) {
        h.kind = "zeroshot";
        h.file = resolve(dir, n["text"].as<std::string>());
    }
    if (n["file"]) h.file = resolve(dir, n["file"].as<std::string>());
    if (n["kind"]) h.kind = n["kind"].as<std::string>();
    if (!h.kind.empty() && h.kind != "linear" && h.kind != "zeroshot" && h.kind != "dense" && h.kind != "dense_patch" &&
        h.kind != "dense_probe")
        throw FormatError(file, where + "head: unknown kind '" + h.kind + "' (linear, zeroshot, dense, dense_patch, dense_probe)");
    if (n["pool"]) h.pool = n["pool"].as<std::string>();
    if (n["layers"]) {
        if (h.kind == "zeroshot") throw FormatError(file, where + "head: a zero-shot head reads the final class token (no layers)");
        const YAML::Node l = n["layers"];
        if (l.IsScalar()) h.layers.push_back(l.as<int>());
        else if (l.IsSequence() && l.size() > 0)
            for (const auto& v : l) h.layers.push_back(v.as<int>());
        else throw FormatError(file, where + "head: layers is a block index or a list of them (negative: from the end)");
    }
    return h;
}

}  // namespace

const std::vector<std::string>& architectureKeys() {
    static const std::vector<std::string> keys = {"image_size", "channels", "patch_size", "width",      "depth",   "heads",
                                                  "mlp_ratio",  "activation", "layer_scale", "patch_bias", "pre_norm", "eps", "projection"};
    return keys;
}

void applyArchitecture(kit::VitConfig& c, const std::map<std::string, std::string>& f, const std::string& where) {
    for (const auto& [k, v] : f) {
        try {
            auto toBool = [&](const std::string& s) {
                if (s == "true" || s == "1" || s == "yes") return true;
                if (s == "false" || s == "0" || s == "no") return false;
                throw InvalidArgument("not a boolean");
            };
            if (k == "image_size") c.imageSize = std::stoi(v);
            else if (k == "channels") c.channels = std::stoi(v);
            else if (k == "patch_size") c.patchSize = std::stoi(v);
            else if (k == "width") c.width = std::stoi(v);
            else if (k == "depth") c.depth = std::stoi(v);
            else if (k == "heads") c.heads = std::stoi(v);
            else if (k == "mlp_ratio") c.mlpRatio = std::stod(v);
            else if (k == "activation") c.activation = kit::parseActivation(v);
            else if (k == "layer_scale") c.layerScale = toBool(v);
            else if (k == "patch_bias") c.patchBias = toBool(v);
            else if (k == "pre_norm") c.preNorm = toBool(v);
            else if (k == "eps") c.eps = std::stod(v);
            else if (k == "projection") c.projection = std::stoi(v);
        } catch (const std::exception& e) {
            throw InvalidArgument(where + "architecture." + k + ": bad value '" + v + "' (" + e.what() + ")");
        }
    }
}

const TaskEntry& KitFile::task(const std::string& n) const {
    for (const auto& t : tasks)
        if (t.name == n) return t;
    throw InvalidArgument("the kit " + path + " has no task '" + n + "'");
}

bool isKitFile(const std::string& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return false;
    const std::string ext = fs::path(path).extension().string();
    if (ext != ".yaml" && ext != ".yml") return false;
    try {
        const YAML::Node y = YAML::LoadFile(path);
        return y.IsMap() && y["kit"];
    } catch (const std::exception&) {
        return true;  // a broken kit file: readKitFile names the problem
    }
}

std::string prefixPattern(const std::string& prefix) {
    std::string rx = "^";
    for (char c : prefix) {
        if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) rx += '\\';
        rx += c;
    }
    return rx;
}

std::string resolveKitFile(const std::string& path) {
    std::error_code ec;
    const std::string file = fs::is_directory(path, ec) ? (fs::path(path) / "kit.yaml").string() : path;
    if (isKitFile(file)) return file;
    try {
        const YAML::Node y = YAML::LoadFile(file);
        if (y.IsMap() && y["mergescope_kit"])
            throw FormatError(file, "a demo kit manifest of an earlier release, not a kit file: `mergescope-cli demo build --dir " +
                                        fs::path(file).parent_path().string() + "` writes its kit file (no retraining)");
    } catch (const YAML::Exception&) {
        // Not YAML (or missing): readKitFile names the problem.
    }
    return file;
}

KitFile readKitFile(const std::string& path) {
    KitFile k;
    k.path = fs::absolute(path).lexically_normal().string();
    k.dir = fs::path(k.path).parent_path().string();
    {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw IoError(path, "cannot open the kit file");
        std::ostringstream s;
        s << in.rdbuf();
        k.text = s.str();
    }
    YAML::Node y;
    try {
        y = YAML::Load(k.text);
    } catch (const YAML::Exception& e) {
        throw FormatError(path, std::string("not valid YAML: ") + e.what());
    }
    if (!y.IsMap()) throw FormatError(path, "a kit file is a YAML map (kit: 1, base: ..., tasks: [...])");
    try {
        if (!y["kit"] && y["mergescope_kit"])
            throw FormatError(path, "this is the demo kit's own manifest, not a kit file: give its folder (or `mergescope-cli demo export` writes it as a kit file)");
        if (!y["kit"]) throw FormatError(path, "no `kit: 1` line: not a kit file");
        static const std::vector<std::string> top = {"kit", "name", "base", "layout", "architecture", "preprocess", "tasks",
                                                     "pickle_allow", "text_tower", "vocabulary", "precision"};
        checkKeys(y, top, path, "");
        if (y["kit"].as<std::string>() != std::to_string(kKitSchema))
            throw FormatError(path, "kit schema " + y["kit"].as<std::string>() + " is not supported (this MergeScope reads kit: 1)");
        k.name = y["name"] ? scalar(y["name"], path, "name ") : fs::path(path).stem().string();
        if (!y["base"]) throw FormatError(path, "`base` is missing (the pretrained checkpoint)");
        k.base = resolve(k.dir, scalar(y["base"], path, "base "));
        if (const YAML::Node a = y["pickle_allow"]) {
            if (a.IsScalar()) k.pickleAllow.push_back(a.as<std::string>());
            else if (a.IsSequence())
                for (const auto& v : a) k.pickleAllow.push_back(scalar(v, path, "pickle_allow "));
            else throw FormatError(path, "pickle_allow: a class name (module.Name, module.* or *) or a list of them");
        }
        if (y["precision"]) {
            k.precision = scalar(y["precision"], path, "precision ");
            if (k.precision != "fp32" && k.precision != "bf16" && k.precision != "auto")
                throw FormatError(path, "precision: '" + k.precision + "' is not fp32, bf16 or auto");
        }
        if (y["text_tower"]) k.textTower = resolve(k.dir, scalar(y["text_tower"], path, "text_tower "));
        if (y["vocabulary"]) k.vocabulary = resolve(k.dir, scalar(y["vocabulary"], path, "vocabulary "));
        if (y["layout"]) {
            k.layout = scalar(y["layout"], path, "layout ");
            static const std::vector<std::string> layouts = {"auto", "timm", "hf_clip", "hf_dinov2", "open_clip", "torchvision"};
            if (std::find(layouts.begin(), layouts.end(), k.layout) == layouts.end())
                throw FormatError(path, "layout: unknown '" + k.layout + "' (" + joinKeys(layouts) + ")");
        }
        if (y["architecture"]) {
            const YAML::Node a = y["architecture"];
            if (!a.IsMap()) throw FormatError(path, "architecture: a map of " + joinKeys(architectureKeys()));
            checkKeys(a, architectureKeys(), path, "architecture: ");
            for (const auto& kv : a) k.architecture[kv.first.as<std::string>()] = scalar(kv.second, path, "architecture." + kv.first.as<std::string>() + " ");
            kit::VitConfig probe;
            applyArchitecture(probe, k.architecture, "");
        }
        if (y["preprocess"]) {
            const YAML::Node p = y["preprocess"];
            if (p.IsScalar()) {
                k.preprocessPreset = p.as<std::string>();
                data::preprocessPreset(k.preprocessPreset, 3, 0);  // names the presets when unknown
            } else {
                k.preprocessPreset = "custom";
                k.preprocessCustom = readPreprocess(p, path);
                k.preprocessCustom->validate();
            }
        }
        const YAML::Node tasks = y["tasks"];
        if (!tasks || !tasks.IsSequence() || tasks.size() == 0) throw FormatError(path, "`tasks` must list at least one task");
        static const std::vector<std::string> taskKeys = {"name",    "expert",       "images", "eval",    "targets", "eval_targets",
                                                          "type",    "metric",       "classes", "target_scale", "head", "pool",
                                                          "dataset", "expert_score", "ignore_index", "invalid_value"};
        std::set<std::string> names;
        for (std::size_t i = 0; i < tasks.size(); ++i) {
            const YAML::Node t = tasks[i];
            std::string where = "tasks[" + std::to_string(i) + "]";
            if (!t.IsMap()) throw FormatError(path, where + ": a task is a map (name, expert, images, ...)");
            TaskEntry e;
            if (!t["name"]) throw FormatError(path, where + ": `name` is missing");
            e.name = scalar(t["name"], path, where + ".name ");
            where += " (" + e.name + "): ";
            checkKeys(t, taskKeys, path, where);
            if (!names.insert(e.name).second) throw FormatError(path, where + "a second task of this name");
            if (!t["expert"]) throw FormatError(path, where + "`expert` is missing (the fine-tuned checkpoint)");
            e.expert = resolve(k.dir, scalar(t["expert"], path, where + "expert "));
            if (!t["images"]) throw FormatError(path, where + "`images` is missing (an ImageFolder, a folder, a .csv list or an .h5 image set)");
            e.images = resolve(k.dir, scalar(t["images"], path, where + "images "));
            if (t["eval"]) e.eval = resolve(k.dir, scalar(t["eval"], path, where + "eval "));
            if (t["targets"]) e.targets = resolve(k.dir, scalar(t["targets"], path, where + "targets "));
            if (t["eval_targets"]) e.evalTargets = resolve(k.dir, scalar(t["eval_targets"], path, where + "eval_targets "));
            if (t["type"]) e.type = parseTaskType(scalar(t["type"], path, where + "type "));
            if (t["metric"]) e.metric = kit::parseMetric(scalar(t["metric"], path, where + "metric "));
            if (t["classes"]) e.classes = t["classes"].as<int>();
            if (e.classes < 0) throw FormatError(path, where + "classes must be positive");
            if (t["target_scale"]) e.targetScale = t["target_scale"].as<double>();
            if (t["head"]) e.head = readHead(t["head"], k.dir, path, where);
            if (t["pool"]) e.head.pool = scalar(t["pool"], path, where + "pool ");
            if (e.head.pool != "cls" && e.head.pool != "mean") throw FormatError(path, where + "pool: 'cls' or 'mean', not '" + e.head.pool + "'");
            e.dataset = t["dataset"] ? scalar(t["dataset"], path, where + "dataset ") : e.images;
            if (t["ignore_index"]) {
                if (e.type != TaskType::Segmentation) throw FormatError(path, where + "ignore_index belongs to segmentation tasks");
                e.ignoreIndex = t["ignore_index"].as<int>();
            }
            if (t["invalid_value"]) {
                if (e.type != TaskType::Depth) throw FormatError(path, where + "invalid_value belongs to depth tasks");
                e.invalidValue = t["invalid_value"].as<double>();
            }
            if (e.metric) {
                const auto& allowed = kit::metricsOf(e.type);
                if (std::find(allowed.begin(), allowed.end(), *e.metric) == allowed.end()) {
                    std::string names;
                    for (auto m : allowed) names += (names.empty() ? "" : ", ") + kit::metricName(m);
                    throw FormatError(path, where + "metric " + kit::metricName(*e.metric) + " is not one of a " + taskTypeName(e.type) +
                                                " task's (" + names + ")");
                }
            }
            if (t["expert_score"]) {
                const YAML::Node es = t["expert_score"];
                if (es.IsMap()) {
                    for (const auto& kv : es) {
                        const kit::Metric m = kit::parseMetric(kv.first.as<std::string>());
                        const auto& allowed = kit::metricsOf(e.type);
                        if (std::find(allowed.begin(), allowed.end(), m) == allowed.end())
                            throw FormatError(path, where + "expert_score: " + kit::metricName(m) + " is not a metric of a " + taskTypeName(e.type) + " task");
                        e.expertScores[m] = kv.second.as<double>();
                    }
                } else {
                    e.expertScores[e.primaryMetric()] = es.as<double>();
                }
                for (const auto& [m, v] : e.expertScores)
                    if (!std::isfinite(v)) throw FormatError(path, where + "expert_score must be finite numbers");
                if (e.eval.empty()) throw FormatError(path, where + "expert_score is the expert's score on `eval`, and the task has no eval set");
            }
            if (e.type == TaskType::Classification && (!e.targets.empty() || !e.evalTargets.empty()))
                throw FormatError(path, where + "targets belong to dense tasks (type: segmentation, regression, depth or normals)");
            k.tasks.push_back(std::move(e));
        }
    } catch (const YAML::Exception& e) {
        throw FormatError(path, std::string("bad value: ") + e.what());
    } catch (const InvalidArgument& e) {
        throw FormatError(path, e.what());
    }
    return k;
}

io::OpenOptions kitOpenOptions(const KitFile& kit) {
    io::OpenOptions o;
    o.torch.inertGlobals = kit.pickleAllow;
    return o;
}

data::Preprocess kitPreprocess(const KitFile& kit, int modelChannels, int modelImageSize) {
    if (kit.preprocessCustom) return *kit.preprocessCustom;
    return data::preprocessPreset(kit.preprocessPreset, modelChannels, modelImageSize);
}

std::string kitFileYaml(const KitFile& k, const std::string& dir) {
    YAML::Emitter y;
    y << YAML::BeginMap;
    y << YAML::Key << "kit" << YAML::Value << kKitSchema;
    y << YAML::Key << "name" << YAML::Value << k.name;
    y << YAML::Key << "base" << YAML::Value << relativeTo(k.base, dir);
    y << YAML::Key << "layout" << YAML::Value << k.layout;
    if (!k.pickleAllow.empty()) y << YAML::Key << "pickle_allow" << YAML::Value << YAML::Flow << k.pickleAllow;
    if (!k.precision.empty()) y << YAML::Key << "precision" << YAML::Value << k.precision;
    if (!k.textTower.empty()) y << YAML::Key << "text_tower" << YAML::Value << relativeTo(k.textTower, dir);
    if (!k.vocabulary.empty()) y << YAML::Key << "vocabulary" << YAML::Value << relativeTo(k.vocabulary, dir);
    if (!k.architecture.empty()) {
        y << YAML::Key << "architecture" << YAML::Value << YAML::BeginMap;
        for (const auto& key : architectureKeys())
            if (auto it = k.architecture.find(key); it != k.architecture.end()) y << YAML::Key << key << YAML::Value << it->second;
        y << YAML::EndMap;
    }
    if (k.preprocessCustom) {
        const auto& p = *k.preprocessCustom;
        y << YAML::Key << "preprocess" << YAML::Value << YAML::BeginMap << YAML::Key << "resize" << YAML::Value << p.resize
          << YAML::Key << "crop" << YAML::Value << p.crop << YAML::Key << "channels" << YAML::Value << p.channels << YAML::Key
          << "mean" << YAML::Value << YAML::Flow << p.mean << YAML::Key << "std" << YAML::Value << YAML::Flow << p.std
          << YAML::Key << "interpolation" << YAML::Value << data::interpolationName(p.interpolation) << YAML::EndMap;
    } else {
        y << YAML::Key << "preprocess" << YAML::Value << k.preprocessPreset;
    }
    y << YAML::Key << "tasks" << YAML::Value << YAML::BeginSeq;
    for (const auto& t : k.tasks) {
        y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << t.name;
        if (t.type != TaskType::Classification) y << YAML::Key << "type" << YAML::Value << taskTypeName(t.type);
        if (t.metric) y << YAML::Key << "metric" << YAML::Value << kit::metricName(*t.metric);
        y << YAML::Key << "expert" << YAML::Value << relativeTo(t.expert, dir);
        y << YAML::Key << "images" << YAML::Value << relativeTo(t.images, dir);
        if (!t.targets.empty()) y << YAML::Key << "targets" << YAML::Value << relativeTo(t.targets, dir);
        if (!t.eval.empty()) y << YAML::Key << "eval" << YAML::Value << relativeTo(t.eval, dir);
        if (!t.evalTargets.empty()) y << YAML::Key << "eval_targets" << YAML::Value << relativeTo(t.evalTargets, dir);
        if (t.classes > 0) y << YAML::Key << "classes" << YAML::Value << t.classes;
        if (t.targetScale > 0) y << YAML::Key << "target_scale" << YAML::Value << t.targetScale;
        if (t.ignoreIndex) y << YAML::Key << "ignore_index" << YAML::Value << *t.ignoreIndex;
        if (t.invalidValue) y << YAML::Key << "invalid_value" << YAML::Value << *t.invalidValue;
        if (t.head.fromClassNames()) {
            y << YAML::Key << "head" << YAML::Value << YAML::BeginMap << YAML::Key << "classes" << YAML::Value;
            if (!t.head.classesFile.empty()) y << relativeTo(t.head.classesFile, dir);
            else y << YAML::Flow << t.head.classNames;
            y << YAML::Key << "templates" << YAML::Value;
            if (t.head.templates.empty()) y << t.head.templateSet;
            else y << t.head.templates;
            y << YAML::EndMap;
        } else if (!t.head.file.empty() || !t.head.kind.empty() || !t.head.layers.empty()) {
            y << YAML::Key << "head" << YAML::Value << YAML::Flow << YAML::BeginMap;
            if (t.head.kind == "zeroshot") y << YAML::Key << "text" << YAML::Value << relativeTo(t.head.file, dir);
            else {
                if (!t.head.kind.empty()) y << YAML::Key << "kind" << YAML::Value << t.head.kind;
                if (!t.head.file.empty()) y << YAML::Key << "file" << YAML::Value << relativeTo(t.head.file, dir);
                if (!t.head.layers.empty()) y << YAML::Key << "layers" << YAML::Value << YAML::Flow << t.head.layers;
            }
            y << YAML::EndMap;
        }
        if (t.head.pool != "cls") y << YAML::Key << "pool" << YAML::Value << t.head.pool;
        if (t.dataset != t.images) y << YAML::Key << "dataset" << YAML::Value << t.dataset;
        if (t.expertScores.size() == 1 && t.expertScores.begin()->first == t.primaryMetric()) {
            y << YAML::Key << "expert_score" << YAML::Value << t.expertScores.begin()->second;
        } else if (!t.expertScores.empty()) {
            y << YAML::Key << "expert_score" << YAML::Value << YAML::BeginMap;
            for (const auto& [m, v] : t.expertScores) y << YAML::Key << kit::metricName(m) << YAML::Value << v;
            y << YAML::EndMap;
        }
        y << YAML::EndMap;
    }
    y << YAML::EndSeq << YAML::EndMap;
    return std::string(y.c_str()) + "\n";
}

}  // namespace ms::core::kit
