// A kit loaded for scoring merged encoders: the base and expert encoders as tensors, each task's
// head, expert score and data — a probe set (unlabelled images for the proxy), a small labelled
// set for head/representation re-alignment and an eval split. Tasks on the same data set share
// one copy of each image set (the three Fashion-MNIST tasks of the demo kit share theirs), so an
// encoder runs once per data set, not once per task. Produced by session::loadSuite from a user's kit
// file or the demo kit; eval, the proxy, sweeps and the learned methods only read it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/data/image_set.h"
#include "core/jobs/progress.h"
#include "core/kit/task.h"
#include "core/model/heads.h"
#include "core/model/vit.h"

namespace ms::core::eval {

struct SuiteOptions {
    int probeSize = 128;         // images per probe set (class-balanced, from the train split)
    int realignSamples = 1000;   // labelled images per task for re-alignment (train split, disjoint from the probe)
    int evalLimit = 0;           // eval images per task (class-balanced from the test split); 0: the whole split
    std::uint64_t seed = 0;
    std::string cacheDir;               // decoded image sets; empty: none
    bool measureExpertScores = false;   // score every expert even where the kit gives its score
};

// Where the suite came from: the kit file and what it names.
struct KitInfo {
    std::string path;          // the kit file
    std::string dir;           // the folder the kit's relative paths start from
    std::string name;
    std::string manifestText;  // the kit file as read (stored in experiments)
    std::string baseFile;      // absolute or as given
    std::string baseHash;      // XXH3-128 of the base file
    std::string layout;        // the weights' layout as found (timm, hf_clip, hf_dinov2, open_clip, torchvision)
    std::string basePrefix;    // the prefix of the encoder's names in the base file ("" for most)
    kit::VitConfig config;
    std::vector<std::string> pickleAllow;  // the kit's: how its PyTorch files are opened
};

struct SuiteTask {
    kit::Task task;
    model::HeadConfig headConfig;
    model::ParamMap head;    // the expert's own head (head.*); empty: none (frozen scores not available)
    double expertScore = 0;  // the expert's primary metric on this suite's eval set; NaN: not available
    // Every metric of the task's type (kit::metricsOf order) for the expert: the baselines of ΔMTL.
    std::vector<std::pair<kit::Metric, double>> expertScores;
    std::string expertFile, expertHash;
    // probe: always; realign and eval: null when the kit has no labelled data for them.
    std::shared_ptr<const data::ImageSet> probe, realign, eval;
    at::Tensor realignTargets, evalTargets;  // every image's target, computed once

    bool hasHead() const { return !head.empty(); }
};

struct TaskSuite {
    KitInfo kit;
    SuiteOptions options;
    model::ParamMap base;                  // encoder tensors
    std::vector<model::ParamMap> experts;  // encoder tensors, one per task (heads stripped)
    std::vector<SuiteTask> tasks;

    const kit::VitConfig& config() const { return kit.config; }
    std::vector<std::string> taskNames() const;
    // Distinct image sets among the tasks' `member` sets, with the tasks that use each (tasks
    // without such a set are left out).
    struct SetGroup {
        std::shared_ptr<const data::ImageSet> set;
        std::vector<std::size_t> tasks;
    };
    std::vector<SetGroup> groups(std::shared_ptr<const data::ImageSet> SuiteTask::*member) const;
};

// `count` indices of [0, total), class-balanced (classes interleaved) when labels are given,
// else a seeded sample; every index (in order) when count ≤ 0 or ≥ what is left. `exclude`d
// indices are never drawn.
std::vector<std::size_t> drawBalanced(const std::vector<std::int32_t>& labels, int classes, std::size_t total, int count,
                                      std::uint64_t seed, const std::vector<std::size_t>& exclude = {});

// Splits a checkpoint's tensors into the encoder's and the head's (names starting "head.").
model::ParamMap encoderOnly(model::ParamMap all, model::ParamMap* head);

// Every metric of the task's type (kit::metricsOf order) for `encoder` with the task's own head on
// its eval set (NaN values without a head or an eval set); scoreOnEval: the primary one.
std::vector<std::pair<kit::Metric, double>> scoresOnEval(const TaskSuite& suite, std::size_t task, const model::ParamMap& encoder,
                                                         const CancelToken* cancel = nullptr);
double scoreOnEval(const TaskSuite& suite, std::size_t task, const model::ParamMap& encoder,
                   const CancelToken* cancel = nullptr);

// Merged tensors under the base file's names (views) → the suite's canonical encoder: renamed and
// q/k/v fused by the base's layout; what the merge did not produce comes from the base. The
// demo's (timm, no prefix) keeps the views as they are.
model::ParamMap toEncoder(const TaskSuite& suite, const model::ParamMap& mergedByFileName);

// A forward that also keeps the blocks the heads of `tasks` read (model::requestHeadBlocks), and
// task t's head on one forward's features (training: a probe's batch norm in training mode).
model::ForwardOptions headForwardOptions(const TaskSuite& suite, const std::vector<std::size_t>& tasks, model::ForwardOptions options = {});
at::Tensor taskHeadOutput(const TaskSuite& suite, std::size_t task, const model::ParamMap& head, const model::VitFeatures& features,
                          bool training = false);

// What a dense task's head makes of one eval image with `encoder`, beside the truth (plain
// values, for previews): per pixel the class (segmentation; truth -1 where unlabelled) or the
// values, channels interleaved (depth, regression: 1; normals: 3, the prediction made unit
// length; truth NaN where invalid).
struct DensePrediction {
    std::size_t task = 0;
    int width = 0, height = 0, channels = 1;
    std::vector<float> prediction, truth;  // height × width × channels
};
// Every dense task with a head and an eval set, on eval image `image` (tasks on one eval set share
// the forward pass).
std::vector<DensePrediction> densePredictions(const TaskSuite& suite, const std::vector<const model::ParamMap*>& perTask, std::size_t image = 0);

// Encoder outputs of every image of a set, in batches, without gradients: tokens [N, T, D] and
// the requested blocks.
model::VitFeatures encodeSet(const kit::VitConfig& config, const model::ParamMap& params, const data::ImageSet& set,
                             const model::ForwardOptions& options = {}, const CancelToken* cancel = nullptr,
                             int batch = 256);

}  // namespace ms::core::eval
