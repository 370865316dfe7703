// A kit loaded for scoring merged encoders: the base and expert encoders as tensors, each task's
// head, expert score and data — a probe set (unlabelled images for the proxy), a small labelled
// set for head/representation re-alignment and an eval split. Tasks on the same data set share
// one copy of each image set (the three Fashion-MNIST tasks of the demo kit share theirs), so an
// encoder runs once per data set, not once per task.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/data/image_set.h"
#include "core/demo/demo_kit.h"
#include "core/jobs/progress.h"
#include "core/model/heads.h"
#include "core/model/vit.h"

namespace ms::core::eval {

struct SuiteOptions {
    int probeSize = 128;         // images per probe set (class-balanced, from the train split)
    int realignSamples = 1000;   // labelled images per task for re-alignment (train split, disjoint from the probe)
    int evalLimit = 0;           // eval images per task (class-balanced from the test split); 0: the whole split
    std::uint64_t seed = 0;
    std::string fashionDir, digitsDir;  // empty: the defaults of the demo kit
};

struct SuiteTask {
    demo::DemoTask task;
    model::HeadConfig headConfig;
    model::ParamMap head;  // the expert's own head (head.weight, head.bias)
    double expertScore = 0;  // the expert's metric on this suite's eval set
    std::string expertFile, expertHash;
    std::shared_ptr<const data::ImageSet> probe, realign, eval;
    at::Tensor realignTargets, evalTargets;  // every image's target, computed once
};

struct TaskSuite {
    demo::KitManifest kit;
    SuiteOptions options;
    model::ParamMap base;                  // encoder tensors
    std::vector<model::ParamMap> experts;  // encoder tensors, one per task (heads stripped)
    std::vector<SuiteTask> tasks;

    const model::VitConfig& config() const { return kit.config; }
    std::vector<std::string> taskNames() const;
    // Distinct image sets among the tasks' `member` sets, with the tasks that use each.
    struct SetGroup {
        std::shared_ptr<const data::ImageSet> set;
        std::vector<std::size_t> tasks;
    };
    std::vector<SetGroup> groups(std::shared_ptr<const data::ImageSet> SuiteTask::*member) const;
};

// Loads and verifies the kit, reads its data and draws the sets. The experts' scores are those
// of the kit when the eval split is whole, else recomputed on the limited split.
TaskSuite loadTaskSuite(const std::string& kitDir, const SuiteOptions& options, ProgressSink& progress = nullProgress(),
                        const CancelToken* cancel = nullptr);

// Encoder outputs of every image of a set, in batches, without gradients: tokens [N, T, D] and
// the requested blocks.
model::VitFeatures encodeSet(const model::VitConfig& config, const model::ParamMap& params, const data::ImageSet& set,
                             const model::ForwardOptions& options = {}, const CancelToken* cancel = nullptr,
                             int batch = 256);

}  // namespace ms::core::eval
