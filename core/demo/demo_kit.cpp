#include "core/demo/demo_kit.h"

#include <ATen/Parallel.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <chrono>
#include <cstring>
#include <optional>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/data/mnist_readers.h"
#include "core/errors.h"
#include "core/io/cache_paths.h"
#include "core/jobs/parallel.h"

#include <atomic>
#include "core/io/atomic_file.h"
#include "core/io/content_hash.h"
#include "core/io/writer_lock.h"
#include "core/kit/kit_file.h"
#include "core/model/param_io.h"

namespace ms::core::demo {

namespace fs = std::filesystem;

namespace {

double secondsSince(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool sameBudget(const TrainBudget& a, const TrainBudget& b) {
    return a.pretrainSteps == b.pretrainSteps && a.finetuneSteps == b.finetuneSteps && a.batch == b.batch &&
           a.pretrainLr == b.pretrainLr && a.finetuneLr == b.finetuneLr && a.weightDecay == b.weightDecay &&
           a.evalLimit == b.evalLimit;
}

bool sameConfig(const kit::VitConfig& a, const kit::VitConfig& b) {
    return a.imageSize == b.imageSize && a.channels == b.channels && a.patchSize == b.patchSize && a.width == b.width &&
           a.depth == b.depth && a.heads == b.heads && a.mlpRatio == b.mlpRatio && a.activation == b.activation &&
           a.layerScale == b.layerScale && a.patchBias == b.patchBias && a.preNorm == b.preNorm && a.eps == b.eps &&
           a.projection == b.projection;
}

bool isLegacyManifest(const std::string& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return false;
    try {
        const YAML::Node y = YAML::LoadFile(path);
        return y.IsMap() && y["mergescope_kit"];
    } catch (const YAML::Exception&) {
        return false;
    }
}

void writeFile(const std::string& path, const void* data, std::size_t size) {
    io::AtomicFile f(path);
    f.writeAll(data, size);
    f.commit();
}

// An IDX file (the MNIST family's format): uint8 (type 0x08) or big-endian float32 (0x0D) values.
void writeIdx(const std::string& path, const std::vector<std::uint32_t>& dims, const std::uint8_t* bytes, const float* floats,
              std::size_t count) {
    std::vector<std::uint8_t> out = {0, 0, static_cast<std::uint8_t>(floats ? 0x0D : 0x08), static_cast<std::uint8_t>(dims.size())};
    auto be32 = [&](std::uint32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
    };
    for (std::uint32_t d : dims) be32(d);
    if (floats) {
        out.reserve(out.size() + 4 * count);
        for (std::size_t i = 0; i < count; ++i) {
            std::uint32_t u;
            std::memcpy(&u, &floats[i], 4);
            be32(u);
        }
    } else {
        out.insert(out.end(), bytes, bytes + count);
    }
    writeFile(path, out.data(), out.size());
}

void writeImageSet(const data::ImageSet& set, const std::string& prefix) {
    const auto n = static_cast<std::uint32_t>(set.count), h = static_cast<std::uint32_t>(set.height), w = static_cast<std::uint32_t>(set.width);
    writeIdx(prefix + "-images-idx3-ubyte", {n, h, w}, set.pixels.data(), nullptr, set.pixels.size());
    std::vector<std::uint8_t> labels(set.labels.begin(), set.labels.end());
    writeIdx(prefix + "-labels-idx1-ubyte", {n}, labels.data(), nullptr, labels.size());
}

// The dense targets of one Fashion-MNIST split as IDX map files (demo_tasks.h):
// `<prefix>-segmentation-idx3-ubyte` (classes, 255 unlabelled), `<prefix>-depth-idx3-float32`
// (metres, 0 invalid) and `<prefix>-normals-idx4-ubyte` (N×H×W×3 RGB codes, black invalid).
constexpr const char* kTargetFiles[] = {"-segmentation-idx3-ubyte", "-depth-idx3-float32", "-normals-idx4-ubyte"};

void writeDenseTargets(const data::ImageSet& set, const std::string& prefix) {
    const auto n = static_cast<std::uint32_t>(set.count), h = static_cast<std::uint32_t>(set.height), w = static_cast<std::uint32_t>(set.width);
    const std::size_t plane = set.imageSize();
    std::vector<std::uint8_t> masks(plane * n), normals(3 * plane * n);
    std::vector<float> depth(plane * n);
    parallelFor(n, 256, [&](unsigned, std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) {
            segmentationTarget(set.image(i), set.labels[i], static_cast<int>(h), static_cast<int>(w), masks.data() + i * plane);
            depthTarget(set.image(i), static_cast<int>(h), static_cast<int>(w), depth.data() + i * plane);
            normalsTarget(set.image(i), static_cast<int>(h), static_cast<int>(w), normals.data() + 3 * i * plane);
        }
    });
    writeIdx(prefix + kTargetFiles[0], {n, h, w}, masks.data(), nullptr, masks.size());
    writeIdx(prefix + kTargetFiles[1], {n, h, w}, nullptr, depth.data(), depth.size());
    writeIdx(prefix + kTargetFiles[2], {n, h, w, 3}, normals.data(), nullptr, normals.size());
}

std::string fashionImages(const std::string& fashionDir, data::Split split) {
    return fashionDir + (split == data::Split::Train ? "/train" : "/t10k") + "-images-idx3-ubyte.gz";
}

// The Fashion-MNIST dense targets are the same for every demo kit: written once per copy of the
// data set, into the data cache, keyed by the images' content.
std::string fashionTargetsDir(const std::string& fashionDir, ProgressSink& progress, const KitData* given) {
    const std::string train = fashionImages(fashionDir, data::Split::Train), test = fashionImages(fashionDir, data::Split::Test);
    // The key: the images' content and the targets' definition (v2: the NYUv2 trio of demo_tasks.h).
    const std::string key = io::hashBytes((io::hashFile(train) + io::hashFile(test) + "v2").data(), 66).substr(0, 16);
    const std::string dir = io::dataDir() + "/fashion-mnist-targets-" + key;
    const auto complete = [&] {
        std::error_code ec;
        for (const char* split : {"train", "test"})
            for (const char* file : kTargetFiles)
                if (!fs::is_regular_file(dir + "/" + split + file, ec)) return false;
        return true;
    };
    if (complete()) return dir;
    fs::create_directories(dir);
    const io::WriterLock lock(dir, "mergescope demo targets", 600);  // two builds at once: one writes, the other waits
    if (complete()) return dir;
    progress.report("writing dense targets", 0, 2);
    std::optional<KitData> loaded;
    if (!given) {
        loaded.emplace();
        loaded->fashionTrain = data::loadFashionMnist(fashionDir, data::Split::Train);
        loaded->fashionTest = data::loadFashionMnist(fashionDir, data::Split::Test);
    }
    const KitData& src = given ? *given : *loaded;
    writeDenseTargets(src.fashionTest, dir + "/test");
    progress.report("writing dense targets", 1, 2);
    writeDenseTargets(src.fashionTrain, dir + "/train");
    progress.report("writing dense targets", 2, 2);
    return dir;
}

// The demo kit as an ordinary kit file (`kit: 1`) and its data: the base and experts in place
// (timm names, heads inside the experts), Fashion-MNIST from the Debian package, the digits split
// as IDX files in the kit, dense targets as IDX map files. `dir` is the kit's final folder;
// `writeInto` where the files go now (the same, or the partial folder of a build).
void writeKitFile(const KitManifest& k, const std::string& dir, const std::string& writeInto, const std::string& fashionDir,
                  const std::string& digitsDir, const KitData* given, ProgressSink& progress) {
    std::optional<KitData> loaded;
    if (!given) loaded = loadKitData(fashionDir, digitsDir, k.seed);
    const KitData& d = given ? *given : *loaded;
    const std::string targets = fashionTargetsDir(fashionDir, progress, &d);
    fs::create_directories(writeInto + "/data");
    writeImageSet(d.digitsTrain, writeInto + "/data/mnist-digits-train");
    writeImageSet(d.digitsTest, writeInto + "/data/mnist-digits-test");
    const auto& c = k.config;
    kit::KitFile f;
    f.name = "demo (seed " + std::to_string(k.seed) + ")";
    f.base = dir + "/" + k.baseFile;
    f.layout = "timm";
    const auto number = [](double v) {  // the shortest text that reads back as v
        char buf[32];
        return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    };
    f.architecture = {{"image_size", std::to_string(c.imageSize)}, {"channels", std::to_string(c.channels)},
                      {"patch_size", std::to_string(c.patchSize)}, {"width", std::to_string(c.width)},
                      {"depth", std::to_string(c.depth)},       {"heads", std::to_string(c.heads)},
                      {"mlp_ratio", number(c.mlpRatio)},        {"activation", kit::activationName(c.activation)},
                      {"layer_scale", c.layerScale ? "true" : "false"}, {"patch_bias", c.patchBias ? "true" : "false"},
                      {"pre_norm", c.preNorm ? "true" : "false"}, {"eps", number(c.eps)}};
    f.preprocessPreset = "none";
    for (const auto& t : k.tasks) {
        kit::TaskEntry e;
        e.name = t.task.name;
        e.type = t.task.type;
        e.metric = t.task.metric;
        e.expert = dir + "/" + t.expertFile;
        e.dataset = t.task.dataset;
        if (t.task.dataset == "fashion-mnist") {
            e.images = fashionImages(fashionDir, data::Split::Train);
            e.eval = fashionImages(fashionDir, data::Split::Test);
        } else {
            e.images = dir + "/data/mnist-digits-train-images-idx3-ubyte";
            e.eval = dir + "/data/mnist-digits-test-images-idx3-ubyte";
        }
        if (kit::isDense(t.task.type)) {
            const char* file = kTargetFiles[t.task.type == TaskType::Segmentation ? 0 : t.task.type == TaskType::Depth ? 1 : 2];
            e.targets = targets + "/train" + file;
            e.evalTargets = targets + "/test" + file;
            if (t.task.type == TaskType::Segmentation) e.classes = t.task.outputs;
            e.head.kind = "dense_patch";  // per patch, on the blocks it reads (demo_tasks.h)
            e.head.layers = t.head.layers;
        }
        e.head.pool = model::poolingName(t.head.pooling);  // the head itself: the expert's own head.* tensors
        if (k.budget.evalLimit <= 0) e.expertScores[t.task.metric] = t.expertScore;  // measured on the whole eval split
        f.tasks.push_back(e);
    }
    const std::string text = "# The demo kit (seed " + std::to_string(k.seed) + "), written by mergescope-cli demo build beside its\n"
                             "# manifest (" + kManifestFile + "): an ordinary kit file (docs/kits.md).\n" + kit::kitFileYaml(f, dir);
    writeFile(writeInto + "/kit.yaml", text.data(), text.size());
}

// Whether the kit file of the demo kit in `dir` is there with every file it names.
bool kitFileComplete(const std::string& dir) {
    try {
        const kit::KitFile f = kit::readKitFile(dir + "/kit.yaml");
        std::error_code ec;
        for (const auto& t : f.tasks)
            for (const std::string* p : {&t.images, &t.eval, &t.targets, &t.evalTargets})
                if (!p->empty() && !fs::is_regular_file(*p, ec)) return false;
        return true;
    } catch (const Error&) {
        return false;
    }
}

}  // namespace

kit::VitConfig KitOptions::defaultKitConfig() {
    kit::VitConfig c;
    c.imageSize = 28;
    c.channels = 1;
    c.patchSize = 7;
    c.width = 64;
    c.depth = 4;
    c.heads = 4;
    return c;
}

const KitTaskEntry& KitManifest::task(const std::string& name) const {
    for (const auto& t : tasks)
        if (t.task.name == name) return t;
    throw InvalidArgument("the kit in " + dir + " has no task '" + name + "'");
}

std::string manifestYaml(const KitManifest& k) {
    YAML::Emitter y;
    y << YAML::BeginMap;
    y << YAML::Key << "mergescope_kit" << YAML::Value << kKitVersion;
    y << YAML::Key << "seed" << YAML::Value << k.seed;
    y << YAML::Key << "threads" << YAML::Value << k.threads;
    const auto& c = k.config;
    y << YAML::Key << "architecture" << YAML::Value << YAML::BeginMap << YAML::Key << "type" << YAML::Value << "vit"
      << YAML::Key << "layout" << YAML::Value << "timm" << YAML::Key << "image_size" << YAML::Value << c.imageSize
      << YAML::Key << "channels" << YAML::Value << c.channels << YAML::Key << "patch_size" << YAML::Value << c.patchSize
      << YAML::Key << "width" << YAML::Value << c.width << YAML::Key << "depth" << YAML::Value << c.depth << YAML::Key
      << "heads" << YAML::Value << c.heads << YAML::Key << "mlp_ratio" << YAML::Value << c.mlpRatio << YAML::Key
      << "activation" << YAML::Value << kit::activationName(c.activation) << YAML::Key << "layer_scale"
      << YAML::Value << c.layerScale << YAML::Key << "patch_bias" << YAML::Value << c.patchBias << YAML::Key
      << "pre_norm" << YAML::Value << c.preNorm << YAML::Key << "eps" << YAML::Value << c.eps << YAML::EndMap;
    y << YAML::Key << "base" << YAML::Value << YAML::BeginMap << YAML::Key << "file" << YAML::Value << k.baseFile
      << YAML::Key << "xxh128" << YAML::Value << k.baseHash << YAML::Key << "pretraining" << YAML::Value
      << "masked-patch reconstruction on fashion-mnist/train + mnist-digits/train images (no labels)" << YAML::EndMap;
    const auto& b = k.budget;
    y << YAML::Key << "budget" << YAML::Value << YAML::BeginMap << YAML::Key << "pretrain_steps" << YAML::Value
      << b.pretrainSteps << YAML::Key << "finetune_steps" << YAML::Value << b.finetuneSteps << YAML::Key << "batch"
      << YAML::Value << b.batch << YAML::Key << "pretrain_lr" << YAML::Value << b.pretrainLr << YAML::Key
      << "finetune_lr" << YAML::Value << b.finetuneLr << YAML::Key << "weight_decay" << YAML::Value << b.weightDecay
      << YAML::Key << "eval_limit" << YAML::Value << b.evalLimit << YAML::EndMap;
    y << YAML::Key << "tasks" << YAML::Value << YAML::BeginSeq;
    for (const auto& t : k.tasks) {
        y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << t.task.name << YAML::Key << "type" << YAML::Value
          << taskTypeName(t.task.type) << YAML::Key << "dataset" << YAML::Value << t.task.dataset << YAML::Key
          << "metric" << YAML::Value << kit::metricName(t.task.metric) << YAML::Key << "expert" << YAML::Value
          << t.expertFile << YAML::Key << "xxh128" << YAML::Value << t.hash << YAML::Key << "head" << YAML::Value
          << YAML::Flow << YAML::BeginMap << YAML::Key << "kind" << YAML::Value << model::headKindName(t.head.kind)
          << YAML::Key << "outputs" << YAML::Value << t.head.outputs << YAML::Key << "pooling" << YAML::Value
          << model::poolingName(t.head.pooling) << YAML::Key << "patch_size" << YAML::Value << t.head.patchSize
          << YAML::Key << "layers" << YAML::Value << YAML::Flow << t.head.layers
          << YAML::EndMap << YAML::Key << "finetune_steps" << YAML::Value << b.finetuneSteps * t.task.stepFactor
          << YAML::Key << "expert_score" << YAML::Value << t.expertScore << YAML::Key << "train_split"
          << YAML::Value << t.trainSplit << YAML::Key << "eval_split" << YAML::Value << t.evalSplit << YAML::Key
          << "seconds" << YAML::Value << t.seconds << YAML::EndMap;
    }
    y << YAML::EndSeq;
    y << YAML::Key << "timings" << YAML::Value << YAML::BeginMap << YAML::Key << "data_s" << YAML::Value
      << k.dataSeconds << YAML::Key << "pretrain_s" << YAML::Value << k.pretrainSeconds << YAML::Key << "total_s"
      << YAML::Value << k.totalSeconds << YAML::EndMap;
    y << YAML::EndMap;
    return std::string(y.c_str()) + "\n";
}

KitManifest loadKit(const std::string& dir, bool verify) {
    std::string path = dir + "/" + kManifestFile;
    if (!fs::exists(path) && isLegacyManifest(dir + "/kit.yaml")) path = dir + "/kit.yaml";  // an earlier release's kit
    if (!fs::exists(path)) throw FormatError(path, std::string("no demo kit here (") + kManifestFile + " missing): run mergescope-cli demo build");
    KitManifest k;
    k.dir = dir;
    try {
        const YAML::Node y = YAML::LoadFile(path);
        if (y["mergescope_kit"].as<int>() != kKitVersion)
            throw FormatError(path, "kit version " + y["mergescope_kit"].as<std::string>() + " is not " + std::to_string(kKitVersion));
        k.seed = y["seed"].as<std::uint64_t>();
        k.threads = y["threads"].as<int>();
        const YAML::Node a = y["architecture"];
        k.config.imageSize = a["image_size"].as<int>();
        k.config.channels = a["channels"].as<int>();
        k.config.patchSize = a["patch_size"].as<int>();
        k.config.width = a["width"].as<int>();
        k.config.depth = a["depth"].as<int>();
        k.config.heads = a["heads"].as<int>();
        k.config.mlpRatio = a["mlp_ratio"].as<double>();
        k.config.activation = kit::parseActivation(a["activation"].as<std::string>());
        k.config.layerScale = a["layer_scale"].as<bool>();
        k.config.patchBias = a["patch_bias"].as<bool>();
        k.config.preNorm = a["pre_norm"].as<bool>();
        k.config.eps = a["eps"].as<double>();
        k.baseFile = y["base"]["file"].as<std::string>();
        k.baseHash = y["base"]["xxh128"].as<std::string>();
        const YAML::Node b = y["budget"];
        k.budget.pretrainSteps = b["pretrain_steps"].as<int>();
        k.budget.finetuneSteps = b["finetune_steps"].as<int>();
        k.budget.batch = b["batch"].as<int>();
        k.budget.pretrainLr = b["pretrain_lr"].as<double>();
        k.budget.finetuneLr = b["finetune_lr"].as<double>();
        k.budget.weightDecay = b["weight_decay"].as<double>();
        k.budget.evalLimit = b["eval_limit"].as<int>();
        for (const auto& t : y["tasks"]) {
            KitTaskEntry e;
            e.task = findDemoTask(t["name"].as<std::string>());
            e.expertFile = t["expert"].as<std::string>();
            e.hash = t["xxh128"].as<std::string>();
            e.head.kind = model::parseHeadKind(t["head"]["kind"].as<std::string>());
            e.head.outputs = t["head"]["outputs"].as<int>();
            e.head.pooling = model::parsePooling(t["head"]["pooling"].as<std::string>());
            e.head.patchSize = t["head"]["patch_size"].as<int>();
            e.head.layers = t["head"]["layers"].as<std::vector<int>>();
            e.expertScore = t["expert_score"].as<double>();
            e.trainSplit = t["train_split"].as<std::string>();
            e.evalSplit = t["eval_split"].as<std::string>();
            e.seconds = t["seconds"].as<double>();
            k.tasks.push_back(e);
        }
        k.dataSeconds = y["timings"]["data_s"].as<double>();
        k.pretrainSeconds = y["timings"]["pretrain_s"].as<double>();
        k.totalSeconds = y["timings"]["total_s"].as<double>();
    } catch (const YAML::Exception& e) {
        throw FormatError(path, std::string("corrupt manifest: ") + e.what());
    } catch (const InvalidArgument& e) {
        throw FormatError(path, std::string("corrupt manifest: ") + e.what());
    }
    if (verify) {
        auto check = [&](const std::string& rel, const std::string& hash) {
            const std::string f = k.path(rel);
            if (!fs::exists(f)) throw FormatError(f, "listed in the kit manifest but missing");
            if (io::hashFile(f) != hash) throw FormatError(f, "does not match the hash in the kit manifest (corrupt or changed)");
        };
        check(k.baseFile, k.baseHash);
        for (const auto& t : k.tasks) check(t.expertFile, t.hash);
    }
    return k;
}

KitManifest buildDemoKit(const KitOptions& options, ProgressSink& progress, const CancelToken* cancel, bool* reused) {
    const std::string dir = options.dir.empty() ? io::demoKitDir(options.seed) : options.dir;
    if (reused) *reused = false;
    const std::string fashionDir = options.fashionDir.empty() ? data::kFashionMnistDir : options.fashionDir;
    const std::string digitsDir = options.digitsDir.empty() ? io::digitsDir() : options.digitsDir;
    if (!options.force && (fs::exists(dir + "/" + kManifestFile) || isLegacyManifest(dir + "/kit.yaml"))) {
        try {
            KitManifest k = loadKit(dir, true);
            if (k.seed == options.seed && sameBudget(k.budget, options.budget) && sameConfig(k.config, options.config) &&
                k.tasks.size() == demoTasks().size()) {
                // A kit of an earlier release (its manifest in kit.yaml), or one whose data moved:
                // its kit file is written again, without retraining.
                if (!fs::exists(dir + "/" + kManifestFile)) {
                    const std::string text = manifestYaml(k);
                    writeFile(dir + "/" + kManifestFile, text.data(), text.size());
                }
                if (!kitFileComplete(dir)) writeKitFile(k, dir, dir, fashionDir, digitsDir, nullptr, progress);
                if (reused) *reused = true;
                return k;
            }
        } catch (const FormatError&) {
            // A partial or corrupt kit: rebuilt below, never used.
        }
    }
    keepLargeAllocationsInHeap();
    // One thread per training, in LibTorch and in OpenBLAS: at these tensor sizes intra-op
    // parallelism buys ~10% for a whole second core (measured), while the four experts are
    // independent — they train side by side, one per core. Each training stays single-threaded,
    // so the weights do not depend on the number of cores.
    at::set_num_threads(1);
    useSingleThreadedBlas();
    const auto start = std::chrono::steady_clock::now();
    auto t0 = start;
    KitManifest k;
    k.dir = dir;
    k.seed = options.seed;
    k.threads = 1;
    k.config = options.config;
    k.budget = options.budget;
    const KitData data = loadKitData(fashionDir, digitsDir, options.seed);
    k.dataSeconds = secondsSince(t0);

    // Everything goes into a sibling directory first; the kit appears complete or not at all.
    const std::string partial = dir + ".partial";
    fs::remove_all(partial);
    fs::create_directories(partial + "/experts");
    t0 = std::chrono::steady_clock::now();
    const model::ParamMap base = pretrainBase(k.config, data, k.budget, options.seed, progress, cancel);
    k.pretrainSeconds = secondsSince(t0);
    model::writeParams(partial + "/" + k.baseFile, base,
                       {{"mergescope.kit", "base"}, {"mergescope.kit_seed", std::to_string(options.seed)}});
    const auto& tasks = demoTasks();
    k.tasks.resize(tasks.size());
    // The experts' steps as one bar.
    std::vector<std::atomic<std::uint64_t>> stepsDone(tasks.size());
    std::uint64_t totalSteps = 0;
    for (const auto& t : tasks) totalSteps += static_cast<std::uint64_t>(k.budget.finetuneSteps) * static_cast<std::uint64_t>(t.stepFactor);
    // Each expert trains on one thread, handed out in task order (the longest training first).
    parallelEach(tasks.size(), [&](unsigned, std::size_t i) {
        const DemoTask& task = tasks[i];
        const auto t1 = std::chrono::steady_clock::now();
        CallbackProgress steps([&, i](const std::string&, std::uint64_t done, std::uint64_t) {
            stepsDone[i].store(done, std::memory_order_relaxed);
            std::uint64_t sum = 0;
            for (const auto& s : stepsDone) sum += s.load(std::memory_order_relaxed);
            progress.report("fine-tuning experts", sum, totalSteps);
        });
        const Expert e = finetuneExpert(task, k.config, base, data, k.budget, options.seed * 1000 + static_cast<std::uint64_t>(task.number), steps, cancel);
        KitTaskEntry& entry = k.tasks[i];
        entry.task = task;
        entry.head = e.headConfig;
        entry.expertFile = "experts/" + task.name + ".safetensors";
        entry.expertScore = evaluateTask(task, k.config, e.encoder, e.head, e.headConfig, data, k.budget.evalLimit);
        entry.seconds = secondsSince(t1);
        entry.trainSplit = data.train(task).name + " (" + std::to_string(data.train(task).count) + " images)";
        entry.evalSplit = data.test(task).name + " (" + std::to_string(k.budget.evalLimit > 0 ? std::min<std::int64_t>(k.budget.evalLimit, data.test(task).count) : data.test(task).count) + " images)";
        model::ParamMap all = e.encoder;
        for (const auto& [n, t] : e.head) all[n] = t;
        nlohmann::json head = {{"kind", model::headKindName(e.headConfig.kind)}, {"outputs", e.headConfig.outputs},
                               {"pooling", model::poolingName(e.headConfig.pooling)}, {"patch_size", e.headConfig.patchSize},
                               {"layers", e.headConfig.layers}};
        model::writeParams(partial + "/" + entry.expertFile, all,
                           {{"mergescope.kit", "expert"}, {"mergescope.task", task.name}, {"mergescope.head", head.dump()}});
    });
    k.baseHash = io::hashFile(partial + "/" + k.baseFile);
    for (auto& t : k.tasks) t.hash = io::hashFile(partial + "/" + t.expertFile);
    k.totalSeconds = secondsSince(start);
    {
        const std::string text = manifestYaml(k);
        writeFile(partial + "/" + kManifestFile, text.data(), text.size());
    }
    writeKitFile(k, dir, partial, fashionDir, digitsDir, &data, progress);
    fs::remove_all(dir);
    fs::create_directories(fs::path(dir).parent_path());
    fs::rename(partial, dir);
    return k;
}

std::string kitInfoJson(const KitManifest& k) {
    nlohmann::ordered_json j;
    j["dir"] = k.dir;
    j["seed"] = k.seed;
    j["architecture"] = {{"type", "vit"}, {"layout", "timm"}, {"image_size", k.config.imageSize},
                         {"channels", k.config.channels}, {"patch_size", k.config.patchSize}, {"width", k.config.width},
                         {"depth", k.config.depth}, {"heads", k.config.heads}, {"mlp_ratio", k.config.mlpRatio},
                         {"activation", kit::activationName(k.config.activation)}};
    j["base"] = {{"file", k.path(k.baseFile)}, {"xxh128", k.baseHash}};
    j["tasks"] = nlohmann::ordered_json::array();
    for (const auto& t : k.tasks)
        j["tasks"].push_back({{"name", t.task.name}, {"type", taskTypeName(t.task.type)}, {"dataset", t.task.dataset},
                              {"metric", kit::metricName(t.task.metric)}, {"higher_is_better", kit::higherIsBetter(t.task.metric)},
                              {"expert_score", t.expertScore}, {"expert", k.path(t.expertFile)},
                              {"train_split", t.trainSplit}, {"eval_split", t.evalSplit}});
    j["timings"] = {{"data_s", k.dataSeconds}, {"pretrain_s", k.pretrainSeconds}, {"total_s", k.totalSeconds},
                    {"threads", k.threads}};
    return j.dump(2);
}

}  // namespace ms::core::demo
