// Training for the demo kit, on CPU, deterministic for a seed and a thread count:
//   pretrainBase    masked-patch reconstruction on Fashion-MNIST + MNIST images (no labels):
//                   half of the patches are blacked out and a dense head reconstructs the image;
//                   the loss is the MSE on the hidden patches (an MAE-style objective).
//   finetuneExpert  encoder + a fresh task head trained together (AdamW) on the task's labels;
//                   tasks that ask for it see randomly shifted images (augmentation).
//   evaluateTask    the task metric of an encoder + head on the task's eval split.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/data/image_set.h"
#include "core/demo/demo_tasks.h"
#include "core/jobs/progress.h"
#include "core/model/heads.h"
#include "core/model/vit.h"

namespace ms::core::demo {

struct KitData {
    data::ImageSet fashionTrain, fashionTest, digitsTrain, digitsTest;
    const data::ImageSet& train(const DemoTask& t) const { return t.dataset == "fashion-mnist" ? fashionTrain : digitsTrain; }
    const data::ImageSet& test(const DemoTask& t) const { return t.dataset == "fashion-mnist" ? fashionTest : digitsTest; }
};

// Fashion-MNIST as the Debian package splits it; MNIST digits split 80/20 per class by `seed`.
KitData loadKitData(const std::string& fashionDir, const std::string& digitsDir, std::uint64_t seed);

// Keeps large tensor buffers in the heap between training steps: glibc otherwise returns every
// allocation above 128 KiB to the kernel and faults it in again at the next step (measured: 40%
// of the kit's time in the kernel). Call once before training.
void keepLargeAllocationsInHeap();

// Makes OpenBLAS run each call on the calling thread (when OpenBLAS is the BLAS in use).
void useSingleThreadedBlas();

struct TrainBudget {
    int pretrainSteps = 1000;
    int finetuneSteps = 1000;
    int batch = 128;
    double pretrainLr = 1e-3;
    double finetuneLr = 1e-3;
    double weightDecay = 0.05;
    int evalLimit = 0;  // evaluate on at most this many images (0: the whole split)
};

model::ParamMap pretrainBase(const kit::VitConfig& config, const KitData& data, const TrainBudget& budget,
                             std::uint64_t seed, ProgressSink& progress, const CancelToken* cancel);

struct Expert {
    model::ParamMap encoder;
    model::ParamMap head;
    model::HeadConfig headConfig;
};

model::HeadConfig headFor(const DemoTask& task, const kit::VitConfig& config);

// A demo task's targets, as the demo defines them (demo_tasks.h) and in the form a kit's targets
// take (eval::taskLoss): class labels int64 [B]; segmentation int64 [B, H, W] (-1: unlabelled);
// depth float [B, 1, H, W] and normals float [B, 3, H, W] (NaN: invalid).
at::Tensor demoTargets(const kit::Task& task, const data::ImageSet& set, const std::vector<std::size_t>& indices);
at::Tensor allDemoTargets(const kit::Task& task, const data::ImageSet& set);

// An expert's output on `images`: one forward keeping the blocks the head reads, then the head.
at::Tensor expertOutput(const kit::VitConfig& config, const model::ParamMap& encoder, const model::HeadConfig& headConfig,
                        const model::ParamMap& head, const at::Tensor& images, bool training = false);

Expert finetuneExpert(const DemoTask& task, const kit::VitConfig& config, const model::ParamMap& base,
                      const KitData& data, const TrainBudget& budget, std::uint64_t seed, ProgressSink& progress,
                      const CancelToken* cancel);

double evaluateTask(const DemoTask& task, const kit::VitConfig& config, const model::ParamMap& encoder,
                    const model::ParamMap& head, const model::HeadConfig& headConfig, const KitData& data,
                    int limit = 0);

}  // namespace ms::core::demo
