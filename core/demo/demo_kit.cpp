#include "core/demo/demo_kit.h"

#include <ATen/Parallel.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
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
           a.layerScale == b.layerScale && a.patchBias == b.patchBias && a.preNorm == b.preNorm && a.eps == b.eps;
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
          << YAML::EndMap << YAML::Key << "expert_score" << YAML::Value << t.expertScore << YAML::Key << "train_split"
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
    const std::string path = dir + "/kit.yaml";
    if (!fs::exists(path)) throw FormatError(path, "no demo kit here (kit.yaml missing): run mergescope-cli demo build");
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
    if (!options.force && fs::exists(dir + "/kit.yaml")) {
        try {
            KitManifest k = loadKit(dir, true);
            if (k.seed == options.seed && sameBudget(k.budget, options.budget) && sameConfig(k.config, options.config) &&
                k.tasks.size() == demoTasks().size()) {
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
    const KitData data = loadKitData(options.fashionDir.empty() ? data::kFashionMnistDir : options.fashionDir,
                                     options.digitsDir.empty() ? io::digitsDir() : options.digitsDir, options.seed);
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
    const auto totalSteps = static_cast<std::uint64_t>(k.budget.finetuneSteps) * tasks.size();
    parallelFor(tasks.size(), 1, [&](unsigned, std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) {
            const DemoTask& task = tasks[i];
            const auto t1 = std::chrono::steady_clock::now();
            CallbackProgress steps([&, i](const std::string&, std::uint64_t done, std::uint64_t) {
                stepsDone[i].store(done, std::memory_order_relaxed);
                std::uint64_t sum = 0;
                for (const auto& s : stepsDone) sum += s.load(std::memory_order_relaxed);
                progress.report("fine-tuning experts", sum, totalSteps);
            });
            const Expert e = finetuneExpert(task, k.config, base, data, k.budget, options.seed * 1000 + 1 + i, steps, cancel);
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
                                   {"pooling", model::poolingName(e.headConfig.pooling)}, {"patch_size", e.headConfig.patchSize}};
            model::writeParams(partial + "/" + entry.expertFile, all,
                               {{"mergescope.kit", "expert"}, {"mergescope.task", task.name}, {"mergescope.head", head.dump()}});
        }
    });
    k.baseHash = io::hashFile(partial + "/" + k.baseFile);
    for (auto& t : k.tasks) t.hash = io::hashFile(partial + "/" + t.expertFile);
    k.totalSeconds = secondsSince(start);
    {
        const std::string text = manifestYaml(k);
        io::AtomicFile f(partial + "/kit.yaml");
        f.writeAll(text.data(), text.size());
        f.commit();
    }
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
