#include "core/eval/kit_suite.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/data/image_cache.h"
#include "core/data/image_list.h"
#include "core/errors.h"
#include "core/eval/downstream.h"
#include "core/eval/task_batches.h"
#include "core/eval/zero_shot_heads.h"
#include "core/io/atomic_file.h"
#include "core/io/cache_paths.h"
#include "core/io/cache_store.h"
#include "core/io/content_hash.h"
#include "core/io/source_factory.h"
#include "core/jobs/parallel.h"
#include "core/model/encoder_weights.h"
#include "core/model/heads.h"
#include "core/model/param_io.h"
#include "core/model/precision.h"

namespace ms::core::eval {

using namespace ms::core::kit;  // the kit file's types: this file reads them
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string shape(const at::Tensor& t) { return std::string(at::str(t.sizes())); }

const at::Tensor* findAny(const model::ParamMap& p, std::initializer_list<std::string> names) {
    for (const std::string& n : names)
        if (auto it = p.find(n); it != p.end()) return &it->second;
    return nullptr;
}

const at::Tensor* findSuffix(const model::ParamMap& p, const std::string& suffix) {
    for (const auto& [n, t] : p)
        if (n == suffix || n.ends_with("." + suffix)) return &t;
    return nullptr;
}

struct ResolvedHead {
    model::HeadConfig config;
    model::ParamMap params;  // empty: none
    std::string description;
};

std::string describe(const ResolvedHead& h) {
    if (h.params.empty() && h.config.kind != model::HeadKind::Dense && h.config.kind != model::HeadKind::DenseProbe && h.config.outputs <= 0)
        return "none";
    const std::string n = std::to_string(h.config.outputs);
    std::string s;
    switch (h.config.kind) {
        case model::HeadKind::Classifier: s = "linear, " + n + " classes, " + model::poolingName(h.config.pooling) + " pooling"; break;
        case model::HeadKind::ZeroShot: s = "zero-shot, " + n + " classes"; break;
        case model::HeadKind::Dense: s = "dense, " + n + (h.config.outputs == 1 ? " channel" : " outputs") + " per pixel"; break;
        case model::HeadKind::DenseProbe: s = "dense probe, " + n + (h.config.outputs == 1 ? " channel" : " outputs") + " per pixel"; break;
    }
    if (!h.description.empty()) s += ", " + h.description;
    if (!h.config.layers.empty()) {
        std::string l;
        for (int b : h.config.layers) l += (l.empty() ? "" : ", ") + std::to_string(b);
        s += ", reads blocks [" + l + "]";
    }
    if (h.params.empty()) s += " (none given: re-alignment trains a fresh one; frozen scores not available)";
    return s;
}

// The task's head from its file, the expert's own tensors, or none; checked against the width.
// Checks the head against what the kit says of the task (classes, value channels).
ResolvedHead finishHead(const TaskEntry& t, ResolvedHead h) {
    const std::string where = "task " + t.name + ": ";
    const int values = kit::valueChannels(t.type);  // regression and depth 1, normals 3
    if (t.classes > 0 && !h.params.empty() && !values && h.config.outputs != t.classes)
        throw FormatError(t.head.file.empty() ? t.expert : t.head.file,
                          where + "the head has " + std::to_string(h.config.outputs) + " outputs, the kit says " + std::to_string(t.classes) + " classes");
    if (h.params.empty()) h.config.outputs = values ? values : t.classes;  // labels may still tell (below)
    if (values && !h.params.empty() && h.config.outputs != values)
        throw FormatError(t.head.file.empty() ? t.expert : t.head.file, where + "a " + taskTypeName(t.type) + " head has " + std::to_string(values) +
                                                                            " output" + (values > 1 ? "s" : "") + " per pixel, this one " +
                                                                            std::to_string(h.config.outputs));
    return h;
}

// The projection a zero-shot head applies: none when the encoder holds its own (open_clip: each
// model's), else the given file's, the base's or the expert's (fixed).
const at::Tensor* zeroShotProjection(const model::ParamMap& file, const model::Encoder& base, const model::Encoder& expert) {
    if (base.config.projection > 0) return nullptr;
    const at::Tensor* proj = findAny(file, {"visual_projection.weight", "projection", "head.projection"});
    if (!proj && base.projection.defined()) proj = &base.projection;
    if (!proj && expert.projection.defined()) proj = &expert.projection;
    return proj;
}

int projectedWidth(const at::Tensor* proj, const model::Encoder& base) {
    return proj ? static_cast<int>(proj->size(0)) : base.config.projection;
}

ResolvedHead resolveHead(const KitFile& k, const TaskEntry& t, const model::Encoder& base, const model::Encoder& expert, const io::OpenOptions& open) {
    const kit::VitConfig& c = base.config;
    const std::int64_t D = c.width, p2 = static_cast<std::int64_t>(c.patchSize) * c.patchSize;
    const bool dense = kit::isDense(t.type);
    ResolvedHead h;
    h.config.patchSize = c.patchSize;
    h.config.pooling = model::parsePooling(t.head.pool);
    h.config.kind = dense ? model::HeadKind::Dense : model::HeadKind::Classifier;
    const std::string where = "task " + t.name + ": ";
    h.config.layers = t.head.layers;
    try {
        model::headBlocks(h.config, c.depth);
    } catch (const InvalidArgument& e) {
        throw FormatError(t.expert, where + e.what());
    }
    if (!dense && t.head.kind.starts_with("dense"))
        throw FormatError(t.head.file.empty() ? t.expert : t.head.file, where + "a " + t.head.kind + " head on a " + taskTypeName(t.type) + " task");
    // DINOv2's probe: asked for, or a dense head on several blocks not asked to be per patch.
    if (dense && (t.head.kind == "dense_probe" || (!h.config.layers.empty() && t.head.kind != "dense_patch")))
        h.config.kind = model::HeadKind::DenseProbe;
    const std::int64_t in = D * static_cast<std::int64_t>(std::max<std::size_t>(1, h.config.layers.size()));
    if (t.head.kind == "zeroshot") {
        if (dense) throw FormatError(t.head.file, where + "a zero-shot head classifies images, the task is " + taskTypeName(t.type));
        model::ParamMap file;
        at::Tensor textEmbeddings;
        std::string textFile = t.head.file;
        if (t.head.fromClassNames()) {
            const ClassNameHead names = classNameHead(k, t.head, open, &base.others);
            textEmbeddings = names.text;
            textFile = k.path;
            h.description = "from " + std::to_string(t.head.classNames.size()) + " class names (" + names.source + (names.cached ? ", cached" : "") + ")";
        } else {
            file = model::loadParams(*io::openCheckpoint(t.head.file, open));
            const at::Tensor* text = findAny(file, {"text", "zeroshot_weights", "text_embeddings", "classifier", "weight", "head.text"});
            if (!text && file.size() == 1) text = &file.begin()->second;
            if (!text) throw FormatError(t.head.file, where + "no text embeddings (a tensor named text or zeroshot_weights, [classes, dim])");
            textEmbeddings = *text;
        }
        const at::Tensor* proj = zeroShotProjection(file, base, expert);
        if (!proj && base.config.projection == 0)
            throw FormatError(textFile, where +
                              "a zero-shot head needs CLIP's visual projection [dim, width]: neither the text file nor the base "
                              "has one (Hugging Face visual_projection.weight, open_clip visual.proj)");
        if (proj && (proj->dim() != 2 || proj->size(1) != D))
            throw FormatError(textFile, "visual_projection.weight", where + "shape " + shape(*proj) + ", expected [dim, " + std::to_string(D) + "]");
        const int P = projectedWidth(proj, base);
        if (textEmbeddings.dim() != 2 || textEmbeddings.size(1) != P)
            throw FormatError(textFile, where + "text embeddings of shape " + shape(textEmbeddings) + ", expected [classes, " + std::to_string(P) +
                                            "] (the projection's output)");
        const at::Tensor* scale = findAny(file, {"logit_scale", "head.logit_scale"});
        if (!scale) scale = findSuffix(base.others, "logit_scale");
        h.config.kind = model::HeadKind::ZeroShot;
        h.config.outputs = static_cast<int>(textEmbeddings.size(0));
        h.params = {{"head.text", textEmbeddings.clone()},
                    {"head.logit_scale", scale ? scale->reshape({1}).clone() : at::full({1}, std::log(100.0), at::kFloat)}};
        if (proj) h.params["head.projection"] = proj->clone();
    } else {
        model::ParamMap given;
        std::string from;
        if (!t.head.file.empty()) {
            const auto source = io::openCheckpoint(t.head.file, open);
            const model::ParamMap file = model::loadParams(*source);
            const at::Tensor* w = findAny(file, {"weight", "head.weight", "classifier.weight", "conv_seg.weight"});
            const at::Tensor* b = findAny(file, {"bias", "head.bias", "classifier.bias", "conv_seg.bias"});
            if (!w) throw FormatError(t.head.file, where + "no head weight (a tensor named weight or head.weight)");
            // The task-vectors release's ClassificationHead, a pickled module: a linear map of the
            // (normalised) image embedding, [classes, P] on the projection's output.
            const auto& meta = source->metadata();
            const bool pickledHead = meta.count("pickle.class") && meta.at("pickle.class").ends_with("ClassificationHead");
            const at::Tensor* proj = dense || !pickledHead ? nullptr : zeroShotProjection({}, base, expert);
            const int P = dense || !pickledHead ? 0 : projectedWidth(proj, base);
            if (P > 0 && w->dim() == 2 && w->size(1) == P && h.config.layers.empty()) {
                const auto normalize = meta.find("pickle.attr.normalize");
                h.config.kind = model::HeadKind::ZeroShot;
                h.config.normalize = normalize == meta.end() || normalize->second == "true" || normalize->second == "True";
                h.config.outputs = static_cast<int>(w->size(0));
                h.params = {{"head.weight", w->clone()}, {"head.bias", b ? b->clone() : at::zeros({w->size(0)}, at::kFloat)}};
                if (proj) h.params["head.projection"] = proj->clone();
                const auto cls = meta.find("pickle.class");
                h.description = std::string("a classification head on the ") + (h.config.normalize ? "normalised " : "") + "image embedding" +
                                (cls != meta.end() ? " (" + cls->second + ")" : "");
                return finishHead(t, h);
            }
            given["head.weight"] = w->dim() == 4 && w->size(2) == 1 && w->size(3) == 1 ? w->flatten(1) : *w;  // a 1×1 convolution
            given["head.bias"] = b ? *b : at::zeros({w->size(0)}, at::kFloat);
            for (const char* stat : {"weight", "bias", "running_mean", "running_var"}) {  // a probe's batch norm (mmseg: bn.*)
                const std::string s(stat);
                if (const at::Tensor* v = findAny(file, {"bn." + s, "head.bn." + s, "batchnorm." + s})) given["head.bn." + s] = *v;
            }
            from = t.head.file;
        } else if (!expert.head.empty()) {
            given = expert.head;
            from = t.expert;
        }
        if (!given.empty()) {
            const at::Tensor& w = given.at("head.weight");
            const at::Tensor& b = given.at("head.bias");
            if (w.dim() != 2 || w.size(1) != in)
                throw FormatError(from, "head.weight", where + "shape " + shape(w) + ": a head on this encoder reads width " + std::to_string(in) +
                                                        (h.config.layers.empty() ? "" : " (" + std::to_string(h.config.layers.size()) + " blocks × " + std::to_string(D) + ")"));
            if (b.dim() != 1 || b.size(0) != w.size(0))
                throw FormatError(from, "head.bias", where + "shape " + shape(b) + ", expected [" + std::to_string(w.size(0)) + "]");
            if (dense && (t.head.kind == "linear"))
                throw FormatError(from, where + "a linear head on a " + taskTypeName(t.type) + " task (use a dense head)");
            if (h.config.kind == model::HeadKind::DenseProbe) {
                h.config.outputs = static_cast<int>(w.size(0));
            } else if (dense) {
                if (w.size(0) % p2 != 0)
                    throw FormatError(from, "head.weight", where + "a dense head has outputs × patch² rows (patch " + std::to_string(c.patchSize) +
                                                            "), " + std::to_string(w.size(0)) + " is not a multiple of " + std::to_string(p2));
                h.config.outputs = static_cast<int>(w.size(0) / p2);
            } else {
                h.config.outputs = static_cast<int>(w.size(0));
            }
            h.params = {{"head.weight", w.clone()}, {"head.bias", b.clone()}};
            if (h.config.kind == model::HeadKind::DenseProbe) {
                const model::ParamMap identity = model::initHead(h.config, static_cast<int>(D), 0);  // a probe without batch norm: identity
                for (const char* stat : {"head.bn.weight", "head.bn.bias", "head.bn.running_mean", "head.bn.running_var"}) {
                    const auto it = given.find(stat);
                    const at::Tensor v = it != given.end() ? it->second : identity.at(stat);
                    if (v.dim() != 1 || v.size(0) != in)
                        throw FormatError(from, stat, where + "shape " + shape(v) + ", expected [" + std::to_string(in) + "]");
                    h.params[stat] = v.clone();
                }
            }
        }
    }
    return finishHead(t, h);
}

struct Sources {
    data::ImageList images;
    std::optional<data::ImageList> eval;
};

bool hasTargets(const data::ImageList& l, const std::string& dir) { return !dir.empty() || (l.hdf5 && !l.hdf5->targets.empty()); }

// What the task can score with these sources, and what is wrong with them (problems).
void requirements(const TaskEntry& t, const Sources& s, const ResolvedHead& h, TaskReport& r, std::vector<std::string>& problems) {
    const bool dense = kit::isDense(t.type);
    r.images = static_cast<std::int64_t>(s.images.count());
    r.evalImages = s.eval ? static_cast<std::int64_t>(s.eval->count()) : 0;
    r.labelled = dense ? hasTargets(s.images, t.targets) : s.images.labelled();
    r.proxy = true;
    const std::string where = "task " + t.name + ": ";
    bool evalOk = false;
    if (s.eval) {
        if (!dense && !s.eval->labelled())
            problems.push_back(s.eval->source + ": " + where + "eval images have no labels (use an ImageFolder or a CSV with labels)");
        else if (dense && !hasTargets(*s.eval, t.evalTargets))
            problems.push_back(s.eval->source + ": " + where + "eval images of a " + taskTypeName(t.type) + " task need `eval_targets`");
        else evalOk = true;
    } else {
        r.notes.push_back("no eval set: proxy only");
    }
    if (!dense) {
        const int outputs = h.config.outputs;
        for (const data::ImageList* l : {&s.images, s.eval ? &*s.eval : nullptr}) {
            if (!l || !l->labelled() || outputs <= 0) continue;
            for (std::size_t i = 0; i < l->labels.size(); ++i)
                if (l->labels[i] >= outputs) {
                    problems.push_back((l->hdf5 ? l->source : l->files[i]) + ": " + where + "label " + std::to_string(l->labels[i]) +
                                       " but the head has " + std::to_string(outputs) + " classes");
                    break;
                }
        }
        for (const data::ImageList* l : {&s.images, s.eval ? &*s.eval : nullptr})
            if (l && l->kind == "imagefolder" && outputs > 0 && static_cast<int>(l->classNames.size()) != outputs)
                problems.push_back(l->source + ": " + where + std::to_string(l->classNames.size()) +
                                   " class folders, the head has " + std::to_string(outputs) +
                                   " classes (an ImageFolder's labels are the positions of its sorted folders)");
        if (!h.params.empty() && s.images.labelled() && s.eval && s.eval->labelled() && !s.images.classNames.empty() &&
            !s.eval->classNames.empty() && s.images.classNames != s.eval->classNames)
            problems.push_back(s.eval->source + ": " + where + "the eval classes differ from the images' (" +
                               std::to_string(s.eval->classNames.size()) + " vs " + std::to_string(s.images.classNames.size()) + " class folders)");
    }
    r.frozen = evalOk && !h.params.empty();
    r.headRealign = r.reprRealign = evalOk && r.labelled;
    if (evalOk && h.params.empty()) r.notes.push_back("no head: frozen scores not available");
    if (evalOk && !r.labelled)
        r.notes.push_back(dense ? "no `targets` for the images: re-alignment not available" : "unlabelled images: re-alignment not available");
}

// What is wrong with a target map of `channels` channels for the task ("" when nothing).
std::string mapChannelsProblem(const TaskEntry& t, int channels) {
    const int want = t.type == TaskType::Segmentation ? 1 : kit::valueChannels(t.type);
    if (channels == want) return {};
    return "task " + t.name + ": a " + taskTypeName(t.type) + " map has " + std::to_string(want) + " channel" +
           (want > 1 ? "s (x, y, z)" : "") + " per pixel, this one " + std::to_string(channels);
}

// Every listed file's header (cheap), in parallel, and its target map's for a dense task: up to
// `limit` problems.
std::vector<std::string> checkImageFiles(const data::ImageList& l, const TaskEntry& t, const std::string& targetsDir, int limit,
                                         const CancelToken* cancel) {
    std::vector<std::string> out;
    if (l.hdf5) return out;
    std::mutex m;
    std::size_t bad = 0;
    parallelFor(l.files.size(), 64, [&](unsigned, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
            if (cancel) cancel->throwIfCancelled();
            std::string why;
            try {
                data::readImageHeader(l.files[i]);
                if (!targetsDir.empty() && !data::isTargetMapFile(targetsDir)) {  // a map file is checked when read
                    const std::string f = data::targetFile(l, i, targetsDir);
                    if (const std::string p = mapChannelsProblem(t, data::readImageHeader(f).channels); !p.empty()) why = f + ": " + p;
                }
            } catch (const Error& err) {
                why = err.what();
            }
            if (why.empty()) continue;
            std::lock_guard<std::mutex> g(m);
            if (static_cast<int>(out.size()) < limit) out.push_back(why);
            ++bad;
        }
    });
    if (bad > out.size()) out.push_back(l.source + ": " + std::to_string(bad - out.size()) + " more unreadable images or targets");
    return out;
}

// Every source listed once per load, however many tasks name it (the three tasks on one image
// set would read, and for IDX or HDF5 sets hold, the whole set three times). Copies share the
// in-memory set.
class SourceLists {
public:
    Sources of(const TaskEntry& t) {
        Sources s{list(t.images), std::nullopt};
        if (!t.eval.empty()) s.eval = list(t.eval);
        return s;
    }

private:
    const data::ImageList& list(const std::string& path) {
        auto it = m_lists.find(path);
        if (it == m_lists.end()) it = m_lists.emplace(path, data::listImages(path)).first;
        return it->second;
    }
    std::map<std::string, data::ImageList> m_lists;
};

void checkPreprocess(const data::Preprocess& p, const kit::VitConfig& c, const std::string& kitPath) {
    if (p.channels != c.channels)
        throw FormatError(kitPath, "preprocess gives " + std::to_string(p.channels) + "-channel images, the encoder reads " + std::to_string(c.channels));
    if (p.crop > 0 && p.crop % c.patchSize != 0)
        throw FormatError(kitPath, "preprocess crop " + std::to_string(p.crop) + " is not a multiple of the patch size " + std::to_string(c.patchSize));
}

std::string architectureText(const kit::VitConfig& c) {
    return "ViT " + std::to_string(c.imageSize) + " px, patch " + std::to_string(c.patchSize) + ", width " + std::to_string(c.width) +
           ", depth " + std::to_string(c.depth) + ", " + std::to_string(c.heads) + " heads, mlp ×" +
           std::to_string(c.mlpRatio).substr(0, 4) + ", " + kit::activationName(c.activation) + ", " + std::to_string(c.channels) + " channels" +
           (c.projection > 0 ? ", projection " + std::to_string(c.projection) : "");
}

std::uint64_t datasetSeed(std::uint64_t seed, const std::string& key) {
    return seed * 7 + std::stoull(io::hashBytes(key.data(), key.size()).substr(0, 6), nullptr, 16);
}

at::Tensor denseTargets(const TaskEntry& t, const data::ImageList& list, const std::vector<std::size_t>& idx, const std::string& dir,
                        const data::Preprocess& p, const data::ImageSet& images, int outputs, const CancelToken* cancel) {
    const data::TargetMaps m = data::loadTargets(list, idx, dir, p, 1.0, cancel);  // values as stored
    const auto fileOf = [&](std::int64_t k) { return dir.empty() ? list.source : data::targetFile(list, idx[static_cast<std::size_t>(k)], dir); };
    const std::string where = "task " + t.name + ": ";
    if (m.height != images.height || m.width != images.width)
        throw FormatError(dir.empty() ? list.source : dir, where + "targets are " + std::to_string(m.width) + "×" +
                                                              std::to_string(m.height) + " after preprocessing, the images " +
                                                              std::to_string(images.width) + "×" + std::to_string(images.height));
    if (const std::string p = mapChannelsProblem(t, m.channels); !p.empty()) throw FormatError(fileOf(0), p);
    at::Tensor v = at::from_blob(const_cast<float*>(m.values.data()), {m.count, m.channels, m.height, m.width}, at::kFloat).clone();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    switch (t.type) {
        case TaskType::Segmentation: {
            // The unlabelled value: the kit's, else 255 in 8/16-bit masks (VOC, ADE20K, Cityscapes
            // PNGs) and -1 in stored numbers (the NYUv2 .npy release). Every other value is a class.
            const int ignore = t.ignoreIndex ? *t.ignoreIndex : (m.bits == 32 ? -1 : 255);
            v = v.squeeze(1);
            const at::Tensor ignored = v.eq(static_cast<float>(ignore));
            const at::Tensor bad = ~ignored & (v.lt(0) | v.ge(static_cast<float>(outputs)) | v.ne(v.floor()));
            if (bad.any().item<bool>())
                for (std::int64_t k = 0; k < m.count; ++k)
                    if (bad[k].any().item<bool>()) {
                        const float value = v[k].masked_select(bad[k])[0].item<float>();
                        throw FormatError(fileOf(k), where + "class " + (value == std::floor(value) ? std::to_string(static_cast<long long>(value))
                                                                                                      : std::to_string(value)) +
                                                         " in the mask, the task has " + std::to_string(outputs) + " classes (0.." +
                                                         std::to_string(outputs - 1) + "; unlabelled: " + std::to_string(ignore) + ")");
                    }
            return v.masked_fill(ignored, -1.0f).to(at::kLong);
        }
        case TaskType::Depth: {
            // Invalid: the kit's invalid_value (default 0) as stored, or not a number. Values: the
            // kit's target_scale, else millimetres in 16-bit PNGs, [0, 1] in 8-bit ones, as stored in numbers.
            const at::Tensor invalid = v.eq(static_cast<float>(t.invalidValue.value_or(0.0))) | ~at::isfinite(v);
            const double scale = t.targetScale > 0 ? t.targetScale : m.bits == 16 ? 0.001 : m.bits == 8 ? 1.0 / 255.0 : 1.0;
            return (v * scale).masked_fill(invalid, nan);
        }
        case TaskType::Normals: return eval::normalsFromStored(v, m.bits);
        default:
            if (t.targetScale > 0) return v * t.targetScale;
            if (m.bits <= 16) return v / (m.bits == 16 ? 65535.f : 255.f);  // PNG maps to [0, 1] unless scaled
            return v;
    }
}

}  // namespace

namespace {

// The content an expert's score depends on, hashed: what a cached score is looked up by.
std::string scoreKey(const eval::TaskSuite& s, std::size_t i) {
    const eval::SuiteTask& t = s.tasks[i];
    if (!t.eval || t.expertHash.empty()) return {};
    std::string key = "expert-score|1|" + t.expertHash + "|" + s.kit.baseHash + "|" + s.kit.layout + "|" + s.kit.basePrefix + "|" +
                      model::precisionName(model::encoderPrecision()) + "|" + kit::taskTypeName(t.task.type) + "|" +
                      model::headKindName(t.headConfig.kind) + "|" + std::to_string(t.headConfig.outputs) + "|" + model::poolingName(t.headConfig.pooling) +
                      "|" + (t.headConfig.normalize ? "n" : "r");
    for (int b : t.headConfig.layers) key += "," + std::to_string(b);
    for (const auto& [name, v] : t.head) {
        const at::Tensor c = v.contiguous().to(at::kFloat);
        key += "|" + name + ":" + io::hashBytes(c.data_ptr<float>(), static_cast<std::size_t>(c.numel()) * sizeof(float));
    }
    const data::ImageSet& e = *t.eval;
    key += "|eval:" + std::to_string(e.count) + "x" + std::to_string(e.channels) + "x" + std::to_string(e.height) + "x" + std::to_string(e.width) + ":" +
           io::hashBytes(e.pixels.data(), e.pixels.size());
    for (float m : e.mean) key += "," + std::to_string(m);
    for (float d : e.std) key += "," + std::to_string(d);
    if (t.evalTargets.defined()) {
        const at::Tensor c = t.evalTargets.contiguous();
        key += "|targets:" + io::hashBytes(c.data_ptr(), static_cast<std::size_t>(c.numel()) * c.element_size());
    }
    const kit::VitConfig& c = s.config();
    key += "|vit:" + std::to_string(c.width) + "," + std::to_string(c.depth) + "," + std::to_string(c.heads) + "," + kit::activationName(c.activation) +
           "," + std::to_string(c.eps) + "," + std::to_string(c.projection);
    return io::hashBytes(key.data(), key.size());
}

std::optional<std::vector<std::pair<kit::Metric, double>>> cachedScores(const std::string& key, kit::TaskType type) {
    if (key.empty()) return std::nullopt;
    const std::string file = io::scoreCacheDir() + "/" + key + ".json";
    try {
        std::ifstream in(file);
        if (!in) return std::nullopt;
        const auto j = nlohmann::json::parse(in);
        std::vector<std::pair<kit::Metric, double>> out;
        for (kit::Metric m : kit::metricsOf(type)) out.emplace_back(m, j.at("scores").at(kit::metricName(m)).get<double>());
        io::touchCacheEntry(file);
        return out;
    } catch (const std::exception&) {
        return std::nullopt;  // damaged or of another version: measured again and replaced
    }
}

void storeScores(const std::string& key, const std::vector<std::pair<kit::Metric, double>>& scores) {
    if (key.empty()) return;
    try {
        nlohmann::json j;
        for (const auto& [m, v] : scores) {
            if (!std::isfinite(v)) return;  // nothing to keep
            j["scores"][kit::metricName(m)] = v;
        }
        fs::create_directories(io::scoreCacheDir());
        const std::string text = j.dump();
        io::AtomicFile out(io::scoreCacheDir() + "/" + key + ".json");
        out.writeAll(text.data(), text.size());
        out.commit();
        io::enforceCacheCap(io::scoreCacheDir());
    } catch (const std::exception&) {
        // a read-only cache: the score is only measured again next time
    }
}

}  // namespace

eval::TaskSuite loadKitSuite(const std::string& kitFile, const eval::SuiteOptions& options, ProgressSink& progress,
                             const CancelToken* cancel) {
    const KitFile k = readKitFile(kitFile);
    // The kit's precision (fp32 without one: a kit opened after a bf16 one is not run in bf16),
    // unless the command line chose.
    model::setEncoderPrecisionFromKit(k.precision.empty() ? model::Precision::Fp32 : model::parsePrecision(k.precision));
    eval::TaskSuite s;
    s.options = options;
    progress.report("loading the base", 0, 1);
    const io::OpenOptions open = kitOpenOptions(k);
    const model::Encoder base = model::loadEncoder(k.base, k.layout, k.architecture, nullptr, open);
    s.kit = {k.path, k.dir, k.name, k.text, k.base, io::hashFile(k.base), model::layoutName(base.found.layout), base.found.prefix,
             base.config, k.pickleAllow};
    s.base = base.params;
    const data::Preprocess pre = kitPreprocess(k, base.config.channels, base.config.imageSize);
    checkPreprocess(pre, base.config, k.path);
    // Every expert, head and source first: a problem is named before anything is decoded.
    std::vector<ResolvedHead> heads;
    std::vector<Sources> sources;
    SourceLists lists;
    for (std::size_t i = 0; i < k.tasks.size(); ++i) {
        if (cancel) cancel->throwIfCancelled();
        const TaskEntry& t = k.tasks[i];
        progress.report("loading experts", i, k.tasks.size());
        model::Encoder e = model::loadEncoder(t.expert, k.layout, k.architecture, &base.config, open);
        heads.push_back(resolveHead(k, t, base, e, open));
        sources.push_back(lists.of(t));
        TaskReport r;
        std::vector<std::string> problems;
        requirements(t, sources.back(), heads.back(), r, problems);
        if (!problems.empty()) throw FormatError(k.path, problems.front());
        if (heads.back().config.outputs <= 0) {
            if (t.type == TaskType::Segmentation)
                throw FormatError(k.path, "task " + t.name + ": give `classes` (no head tells how many)");
            heads.back().config.outputs = sources.back().images.classes();
            if (heads.back().config.outputs <= 0 && sources.back().eval) heads.back().config.outputs = sources.back().eval->classes();
        }
        eval::SuiteTask st;
        st.task = {t.name, t.dataset, t.type, t.metric ? *t.metric : defaultMetric(t.type), heads.back().config.outputs};
        st.headConfig = heads.back().config;
        st.head = heads.back().params;
        st.expertFile = t.expert;
        st.expertHash = io::hashFile(t.expert);
        s.experts.push_back(std::move(e.params));
        s.tasks.push_back(std::move(st));
    }
    // Decoding: once per data set (probe, re-alignment) and eval source, through the decoded-image
    // cache (by content); targets per task.
    const std::string imageCache = io::imageCacheDir();
    struct Drawn {
        std::shared_ptr<const data::ImageSet> probe, realign;
        std::vector<std::size_t> realignIdx;
        std::string images;
    };
    std::map<std::string, Drawn> byDataset;
    std::map<std::string, std::pair<std::shared_ptr<const data::ImageSet>, std::vector<std::size_t>>> byEval;
    // A data set's re-alignment images are decoded only when a task on it can train on them.
    auto canRealign = [&](std::size_t i) {
        const TaskEntry& t = k.tasks[i];
        return kit::isDense(t.type) ? hasTargets(sources[i].images, t.targets) : sources[i].images.labelled();
    };
    std::map<std::string, bool> realignNeeded;
    for (std::size_t i = 0; i < k.tasks.size(); ++i) realignNeeded[k.tasks[i].dataset] = realignNeeded[k.tasks[i].dataset] || canRealign(i);
    for (std::size_t i = 0; i < k.tasks.size(); ++i) {
        const TaskEntry& t = k.tasks[i];
        const Sources& src = sources[i];
        eval::SuiteTask& st = s.tasks[i];
        const std::uint64_t seed = datasetSeed(options.seed, t.dataset);
        auto [it, fresh] = byDataset.try_emplace(t.dataset);
        const auto& L = src.images;
        if (fresh) {
            const auto probeIdx = eval::drawBalanced(L.labels, L.classes(), L.count(), options.probeSize, seed);
            it->second.probe = std::make_shared<data::ImageSet>(data::loadImagesCached(L, probeIdx, pre, t.dataset + "/probe", imageCache, progress, cancel));
            auto realignIdx = eval::drawBalanced(L.labels, L.classes(), L.count(), options.realignSamples, seed + 1, probeIdx);
            if (realignIdx.empty()) realignIdx = eval::drawBalanced(L.labels, L.classes(), L.count(), options.realignSamples, seed + 1);
            it->second.realignIdx = realignIdx;
            if (realignNeeded[t.dataset])
                it->second.realign = std::make_shared<data::ImageSet>(data::loadImagesCached(L, realignIdx, pre, t.dataset + "/realign", imageCache, progress, cancel));
            it->second.images = t.images;
        } else if (it->second.images != t.images) {
            throw FormatError(k.path, "task " + t.name + ": dataset '" + t.dataset + "' is shared with a task that names other images");
        }
        st.probe = it->second.probe;
        const bool dense = kit::isDense(t.type);
        if (canRealign(i)) {
            st.realign = it->second.realign;
            st.realignTargets = dense ? denseTargets(t, L, it->second.realignIdx, t.targets, pre, *st.realign, st.task.outputs, cancel)
                                      : eval::labelTargets(*st.realign, [&] {
                                            std::vector<std::size_t> all(static_cast<std::size_t>(st.realign->count));
                                            for (std::size_t j = 0; j < all.size(); ++j) all[j] = j;
                                            return all;
                                        }());
        }
        if (src.eval) {
            auto [e, freshEval] = byEval.try_emplace(t.eval);
            if (freshEval) {
                const auto& E = *src.eval;
                e->second.second = eval::drawBalanced(E.labels, E.classes(), E.count(), options.evalLimit, seed + 2);
                e->second.first = std::make_shared<data::ImageSet>(data::loadImagesCached(E, e->second.second, pre, t.dataset + "/eval", imageCache, progress, cancel));
            }
            st.eval = e->second.first;
            std::vector<std::size_t> all(static_cast<std::size_t>(st.eval->count));
            for (std::size_t j = 0; j < all.size(); ++j) all[j] = j;
            st.evalTargets = dense ? denseTargets(t, *src.eval, e->second.second, t.evalTargets, pre, *st.eval, st.task.outputs, cancel)
                                   : eval::labelTargets(*st.eval, all);
        }
    }
    progress.report("expert scores", 0, s.tasks.size());
    for (std::size_t i = 0; i < s.tasks.size(); ++i) {
        // Scores the kit gives hold for the whole eval set, which is what this load scores on
        // when it draws no subset; taken when they cover every metric of the task's type.
        const auto& given = k.tasks[i].expertScores;
        auto& st = s.tasks[i];
        bool covered = options.evalLimit <= 0 && !options.measureExpertScores && !given.empty();
        for (kit::Metric m : kit::metricsOf(st.task.type)) covered = covered && given.count(m);
        if (covered) {
            st.expertScores.clear();
            for (kit::Metric m : kit::metricsOf(st.task.type)) st.expertScores.emplace_back(m, given.at(m));
        } else {
            // Measured once per content (expert, base, head, eval images and targets, precision)
            // and read back on later loads; kit check always measures.
            const std::string key = options.measureExpertScores ? std::string() : scoreKey(s, i);
            if (auto cached = cachedScores(key, st.task.type)) {
                st.expertScores = *cached;
            } else {
                st.expertScores = eval::scoresOnEval(s, i, s.experts[i], cancel);
                model::releaseResident(s.experts[i]);  // one expert resident at a time
                storeScores(key, st.expertScores);
            }
        }
        for (const auto& [m, v] : st.expertScores)
            if (m == st.task.metric) st.expertScore = v;
        progress.report("expert scores", i + 1, s.tasks.size());
    }
    return s;
}

KitReport checkKit(const std::string& kitFile, const CheckOptions& options, ProgressSink& progress, const CancelToken* cancel) {
    KitReport r;
    r.kit = kitFile;
    KitFile k;
    try {
        k = readKitFile(resolveKitFile(kitFile));
    } catch (const Error& e) {
        r.problems.push_back(e.what());
        return r;
    }
    r.kit = k.path;
    r.name = k.name;
    std::optional<model::Encoder> base;
    try {
        progress.report("checking the base", 0, 1);
        base = model::loadEncoder(k.base, k.layout, k.architecture, nullptr, kitOpenOptions(k));
        r.layout = model::layoutName(base->found.layout);
        r.prefix = base->found.prefix;
        r.architecture = architectureText(base->config);
        const data::Preprocess pre = kitPreprocess(k, base->config.channels, base->config.imageSize);
        r.preprocess = k.preprocessPreset == "custom" ? pre.key() : k.preprocessPreset;
        checkPreprocess(pre, base->config, k.path);
    } catch (const Error& e) {
        r.problems.push_back(e.what());
    }
    SourceLists lists;
    for (std::size_t i = 0; i < k.tasks.size(); ++i) {
        const TaskEntry& t = k.tasks[i];
        progress.report("checking tasks", i, k.tasks.size());
        TaskReport tr;
        tr.name = t.name;
        tr.type = taskTypeName(t.type);
        const kit::Metric metric = t.metric ? *t.metric : defaultMetric(t.type);
        tr.metric = kit::metricName(metric);
        tr.higherIsBetter = kit::higherIsBetter(metric);
        tr.dataset = t.dataset;
        tr.expertScore = kNaN;
        std::optional<model::Encoder> expert;
        try {
            if (!fs::exists(t.expert)) throw IoError(t.expert, "task " + t.name + ": the expert file is missing");
            if (base) expert = model::loadEncoder(t.expert, k.layout, k.architecture, &base->config, kitOpenOptions(k));
        } catch (const Error& e) {
            r.problems.push_back(e.what());
        }
        ResolvedHead head;
        bool headOk = false;
        try {
            if (base && expert) {
                head = resolveHead(k, t, *base, *expert, kitOpenOptions(k));
                headOk = true;
            }
        } catch (const Error& e) {
            r.problems.push_back(e.what());
        }
        try {
            const Sources s = lists.of(t);
            if (headOk && head.config.outputs <= 0 && t.type == TaskType::Classification) head.config.outputs = s.images.classes();
            if (headOk) requirements(t, s, head, tr, r.problems);
            else tr.images = static_cast<std::int64_t>(s.images.count()), tr.proxy = true;
            for (auto& p : checkImageFiles(s.images, t, t.targets, options.maxImageProblems, cancel)) r.problems.push_back(p);
            if (s.eval)
                for (auto& p : checkImageFiles(*s.eval, t, t.evalTargets, options.maxImageProblems, cancel)) r.problems.push_back(p);
        } catch (const Error& e) {
            r.problems.push_back(e.what());
        }
        if (t.type == TaskType::Segmentation && headOk && head.config.outputs <= 0)
            r.problems.push_back(k.path + ": task " + t.name + ": give `classes` (no head tells how many)");
        tr.head = headOk ? describe(head) : "not checked (the base or the expert could not be read)";
        r.tasks.push_back(std::move(tr));
    }
    if (r.ok()) {
        // Decode what a sweep would (same draws) and score the experts: problems inside image
        // data (truncated files, masks with classes out of range) show up here.
        try {
            eval::SuiteOptions so;
            so.probeSize = options.probeSize;
            so.realignSamples = options.realignSamples;
            so.evalLimit = options.evalLimit;
            so.seed = options.seed;
            so.measureExpertScores = true;
            if (!options.scores) so.evalLimit = 1;  // still decodes one eval image per set
            CallbackProgress p([&](const std::string& stage, std::uint64_t d, std::uint64_t n) { progress.report(stage, d, n); });
            const eval::TaskSuite suite = loadKitSuite(k.path, so, p, cancel);
            if (options.scores)
                for (std::size_t i = 0; i < suite.tasks.size(); ++i) {
                    r.tasks[i].expertScore = suite.tasks[i].expertScore;
                    if (so.evalLimit > 0) continue;
                    for (const auto& [m, measured] : suite.tasks[i].expertScores) {
                        const auto given = k.tasks[i].expertScores.find(m);
                        if (given != k.tasks[i].expertScores.end() &&
                            std::abs(given->second - measured) > 1e-6 * std::max(1.0, std::abs(measured)))
                            r.problems.push_back(k.path + ": task " + k.tasks[i].name + ": expert_score " + kit::metricName(m) + " is " +
                                                 std::to_string(given->second) + ", the expert scores " + std::to_string(measured) +
                                                 " on its eval set");
                    }
                }
            if (!options.downstream.empty())
                for (auto& p : eval::downstreamProblems(suite, eval::parseDownstreamMode(options.downstream)))
                    r.problems.push_back(k.path + ": " + p);
        } catch (const Cancelled&) {
            throw;
        } catch (const Error& e) {
            r.problems.push_back(e.what());
        }
    }
    return r;
}

std::string kitReportJson(const KitReport& r) {
    nlohmann::ordered_json j;
    j["kit"] = r.kit;
    j["name"] = r.name;
    j["ok"] = r.ok();
    j["layout"] = r.layout;
    j["prefix"] = r.prefix;
    j["architecture"] = r.architecture;
    j["preprocess"] = r.preprocess;
    j["problems"] = r.problems;
    j["tasks"] = nlohmann::ordered_json::array();
    for (const auto& t : r.tasks) {
        nlohmann::ordered_json x;
        x["name"] = t.name;
        x["type"] = t.type;
        x["dataset"] = t.dataset;
        x["metric"] = t.metric;
        x["higher_is_better"] = t.higherIsBetter;
        x["expert_score"] = std::isnan(t.expertScore) ? nlohmann::ordered_json() : nlohmann::ordered_json(t.expertScore);
        x["head"] = t.head;
        x["images"] = t.images;
        x["eval_images"] = t.evalImages;
        x["labelled"] = t.labelled;
        x["scores"] = {{"proxy", t.proxy}, {"frozen", t.frozen}, {"head-realign", t.headRealign}, {"repr-realign", t.reprRealign}};
        x["notes"] = t.notes;
        j["tasks"].push_back(x);
    }
    return j.dump(2);
}

std::string kitReportText(const KitReport& r) {
    std::string s = "kit " + r.kit + (r.name.empty() ? "" : " (" + r.name + ")") + "\n";
    if (!r.layout.empty())
        s += "  weights: " + r.layout + (r.prefix.empty() ? "" : ", prefix '" + r.prefix + "'") + "; " + r.architecture + "\n";
    if (!r.preprocess.empty()) s += "  preprocess: " + r.preprocess + "\n";
    if (!r.tasks.empty()) {
        char line[512];
        std::snprintf(line, sizeof line, "  %-16s %-14s %-9s %7s %6s  %-28s %s\n", "task", "type", "metric", "images", "eval",
                      "scores", "expert");
        s += line;
        for (const auto& t : r.tasks) {
            std::string scores = "proxy";
            if (t.frozen) scores += " frozen";
            if (t.headRealign) scores += " head-realign";
            if (t.reprRealign) scores += " repr-realign";
            char score[32] = "n/a";
            if (!std::isnan(t.expertScore)) std::snprintf(score, sizeof score, "%.4f", t.expertScore);
            std::snprintf(line, sizeof line, "  %-16s %-14s %-9s %7lld %6lld  %-28s %s\n", t.name.c_str(), t.type.c_str(), t.metric.c_str(),
                          static_cast<long long>(t.images), static_cast<long long>(t.evalImages), scores.c_str(), score);
            s += line;
            s += "    head: " + t.head + "\n";
            for (const auto& n : t.notes) s += "    note: " + n + "\n";
        }
    }
    if (r.ok()) s += "OK: no problems found\n";
    else {
        s += std::to_string(r.problems.size()) + (r.problems.size() == 1 ? " problem:\n" : " problems:\n");
        for (const auto& p : r.problems) s += "  - " + p + "\n";
    }
    return s;
}

}  // namespace ms::core::eval
