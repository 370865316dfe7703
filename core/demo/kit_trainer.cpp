#include "core/demo/kit_trainer.h"

#include <ATen/core/grad_mode.h>
#include <torch/optim/adamw.h>

#include <dlfcn.h>
#include <malloc.h>

#include <cmath>
#include <limits>
#include <random>

#include "core/data/mnist_readers.h"
#include "core/data/sampling.h"
#include "core/errors.h"
#include "core/model/param_io.h"
#include "core/eval/task_batches.h"

namespace ms::core::demo {

namespace {
using eval::imagesToTensor;
using model::ParamMap;

constexpr double kPi = 3.14159265358979323846;

// Linear warm-up over the first 5% of the steps, then cosine decay to 10% of the peak.
double learningRate(double peak, int step, int steps) {
    const int warm = std::max(1, steps / 20);
    if (step < warm) return peak * (step + 1) / warm;
    const double progress = static_cast<double>(step - warm) / std::max(1, steps - warm);
    return peak * (0.1 + 0.9 * 0.5 * (1 + std::cos(kPi * progress)));
}

void setLr(torch::optim::AdamW& opt, double lr) {
    for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
}

std::vector<std::size_t> randomBatch(std::mt19937_64& rng, std::size_t poolSize, int batch) {
    std::vector<std::size_t> idx(static_cast<std::size_t>(batch));
    for (auto& i : idx) i = static_cast<std::size_t>(rng() % poolSize);
    return idx;
}

// Each image moved by up to ±`shift` pixels in x and y; uncovered pixels are background (-1).
at::Tensor randomShift(const at::Tensor& x, std::mt19937_64& rng, int shift) {
    const std::int64_t H = x.size(2), W = x.size(3);
    const at::Tensor padded = at::constant_pad_nd(x, {shift, shift, shift, shift}, -1.0);
    at::Tensor out = at::empty_like(x);
    for (std::int64_t b = 0; b < x.size(0); ++b) {
        const auto dy = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(2 * shift + 1));
        const auto dx = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(2 * shift + 1));
        out[b].copy_(padded[b].narrow(1, dy, H).narrow(2, dx, W));
    }
    return out;
}

}  // namespace

at::Tensor expertOutput(const kit::VitConfig& config, const ParamMap& encoder, const model::HeadConfig& headConfig, const ParamMap& head,
                        const at::Tensor& images, bool training) {
    model::ForwardOptions o;
    model::requestHeadBlocks(o, headConfig, config.depth);
    return model::headForward(headConfig, head, model::headTokens(headConfig, model::vitForward(config, encoder, images, o), config.depth),
                              training);
}

void useSingleThreadedBlas() {
    // OpenBLAS (Debian's libblas.so.3 alternative) exports this; other BLAS builds do not.
    using SetThreads = void (*)(int);
    if (auto* set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
}

void keepLargeAllocationsInHeap() {
    static const bool done = [] {
        mallopt(M_MMAP_THRESHOLD, 512 << 20);
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
        return true;
    }();
    (void)done;
}

KitData loadKitData(const std::string& fashionDir, const std::string& digitsDir, std::uint64_t seed) {
    KitData d;
    d.fashionTrain = data::loadFashionMnist(fashionDir, data::Split::Train);
    d.fashionTest = data::loadFashionMnist(fashionDir, data::Split::Test);
    const data::ImageSet digits = data::loadMnistDigits(digitsDir);
    const auto [train, test] = data::stratifiedSplit(digits.labels, 10, 0.8, seed);
    d.digitsTrain = digits.subset(train, "mnist-digits/train");
    d.digitsTest = digits.subset(test, "mnist-digits/test");
    return d;
}

at::Tensor demoTargets(const kit::Task& task, const data::ImageSet& set, const std::vector<std::size_t>& idx) {
    const int h = static_cast<int>(set.height), w = static_cast<int>(set.width);
    const auto B = static_cast<std::int64_t>(idx.size());
    const auto image = [&](std::int64_t b) { return set.image(idx[static_cast<std::size_t>(b)]); };
    // The stored maps (demo_tasks.h), turned into targets as a kit's map files are (kit_suite.cpp).
    switch (task.type) {
        case TaskType::Classification: return eval::labelTargets(set, idx);
        case TaskType::Segmentation: {
            at::Tensor t = at::empty({B, h, w}, at::kByte);
            for (std::int64_t b = 0; b < B; ++b)
                segmentationTarget(image(b), set.labels.at(idx[static_cast<std::size_t>(b)]), h, w, t[b].data_ptr<std::uint8_t>());
            return t.to(at::kLong).masked_fill(t.eq(kUnlabelled), -1);
        }
        case TaskType::Depth: {
            at::Tensor t = at::empty({B, 1, h, w}, at::kFloat);
            for (std::int64_t b = 0; b < B; ++b) depthTarget(image(b), h, w, t[b].data_ptr<float>());
            return t.masked_fill(t.eq(0.0f), std::numeric_limits<float>::quiet_NaN());
        }
        case TaskType::Normals: {
            at::Tensor t = at::empty({B, h, w, 3}, at::kByte);
            for (std::int64_t b = 0; b < B; ++b) normalsTarget(image(b), h, w, t[b].data_ptr<std::uint8_t>());
            return eval::normalsFromStored(t.permute({0, 3, 1, 2}).to(at::kFloat).contiguous(), 8);
        }
        case TaskType::Regression: break;  // not a demo task (demo_tasks.h)
    }
    throw InvalidArgument("the demo has no " + taskTypeName(task.type) + " task");
}

at::Tensor allDemoTargets(const kit::Task& task, const data::ImageSet& set) {
    std::vector<std::size_t> idx(static_cast<std::size_t>(set.count));
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    return demoTargets(task, set, idx);
}

model::HeadConfig headFor(const DemoTask& task, const kit::VitConfig& config) {
    model::HeadConfig h;
    h.kind = task.type == TaskType::Classification ? model::HeadKind::Classifier : model::HeadKind::Dense;
    h.outputs = task.outputs;
    h.layers = task.layers;
    h.pooling = model::Pooling::MeanPatches;  // better than the class token for short fine-tuning
    h.patchSize = config.patchSize;
    return h;
}

ParamMap pretrainBase(const kit::VitConfig& config, const KitData& data, const TrainBudget& budget, std::uint64_t seed,
                      ProgressSink& progress, const CancelToken* cancel) {
    ParamMap enc = model::initVit(config, seed);
    model::HeadConfig recon;
    recon.kind = model::HeadKind::Dense;
    recon.outputs = config.channels;
    recon.patchSize = config.patchSize;
    ParamMap head = model::initHead(recon, config.width, seed + 1);
    std::vector<at::Tensor> params = model::makeTrainable(enc);
    for (auto& t : model::makeTrainable(head)) params.push_back(t);
    torch::optim::AdamW opt(params, torch::optim::AdamWOptions(budget.pretrainLr).weight_decay(budget.weightDecay));
    std::mt19937_64 rng(seed * 7919 + 1);
    const int g = config.grid(), p = config.patchSize, half = budget.batch / 2;
    for (int step = 0; step < budget.pretrainSteps; ++step) {
        if (cancel) cancel->throwIfCancelled();
        // Half the batch from each data set, so the base sees clothes and digits alike.
        const at::Tensor x = at::cat({imagesToTensor(data.fashionTrain, randomBatch(rng, data.fashionTrain.count, half)),
                                      imagesToTensor(data.digitsTrain, randomBatch(rng, data.digitsTrain.count, budget.batch - half))});
        at::Tensor keep = at::ones({x.size(0), 1, g, g}, at::kFloat);
        float* k = keep.data_ptr<float>();
        for (std::int64_t b = 0; b < x.size(0); ++b) {
            std::vector<std::size_t> order(static_cast<std::size_t>(g * g));
            for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
            data::seededShuffle(order, rng());
            for (std::size_t i = 0; i < order.size() / 2; ++i) k[b * g * g + static_cast<std::int64_t>(order[i])] = 0.0f;
        }
        const at::Tensor keepPixels = keep.repeat_interleave(p, 2).repeat_interleave(p, 3);  // [B,1,H,W]
        const at::Tensor masked = x * keepPixels + (keepPixels - 1.0f);                    // hidden patches → -1
        setLr(opt, budget.pretrainLr * learningRate(1.0, step, budget.pretrainSteps));
        opt.zero_grad();
        const at::Tensor rec = model::headForward(recon, head, model::vitForward(config, enc, masked).tokens);
        const at::Tensor hidden = 1.0f - keepPixels;
        const at::Tensor loss = ((rec - x).pow(2) * hidden).sum() / hidden.sum().clamp_min(1.0f);
        loss.backward();
        opt.step();
        progress.report("pretraining base", static_cast<std::uint64_t>(step + 1), static_cast<std::uint64_t>(budget.pretrainSteps));
    }
    for (auto& [n, t] : enc) t = t.detach();
    return enc;
}

Expert finetuneExpert(const DemoTask& task, const kit::VitConfig& config, const ParamMap& base, const KitData& data,
                      const TrainBudget& budget, std::uint64_t seed, ProgressSink& progress, const CancelToken* cancel) {
    Expert e;
    e.encoder = base;
    e.headConfig = headFor(task, config);
    e.head = model::initHead(e.headConfig, config.width, seed);
    std::vector<at::Tensor> params = model::makeTrainable(e.encoder);
    for (auto& t : model::makeTrainable(e.head)) params.push_back(t);
    torch::optim::AdamW opt(params, torch::optim::AdamWOptions(budget.finetuneLr).weight_decay(budget.weightDecay));
    const data::ImageSet& train = data.train(task);
    std::mt19937_64 rng(seed * 104729 + 3);
    const int steps = budget.finetuneSteps * task.stepFactor;
    for (int step = 0; step < steps; ++step) {
        if (cancel) cancel->throwIfCancelled();
        const auto idx = randomBatch(rng, static_cast<std::size_t>(train.count), budget.batch);
        setLr(opt, budget.finetuneLr * learningRate(1.0, step, steps));
        opt.zero_grad();
        at::Tensor x = imagesToTensor(train, idx);
        if (task.shiftAugment > 0) x = randomShift(x, rng, task.shiftAugment);
        const at::Tensor out = expertOutput(config, e.encoder, e.headConfig, e.head, x, true);
        eval::taskLoss(task, out, demoTargets(task, train, idx)).backward();
        opt.step();
        progress.report("fine-tuning " + task.name, static_cast<std::uint64_t>(step + 1), static_cast<std::uint64_t>(steps));
    }
    for (auto& [n, t] : e.encoder) t = t.detach();
    for (auto& [n, t] : e.head) t = t.detach();
    return e;
}

double evaluateTask(const DemoTask& task, const kit::VitConfig& config, const ParamMap& encoder, const ParamMap& head,
                    const model::HeadConfig& headConfig, const KitData& data, int limit) {
    at::NoGradGuard noGrad;
    const data::ImageSet& test = data.test(task);
    const std::size_t n = limit > 0 ? std::min<std::size_t>(static_cast<std::size_t>(limit), static_cast<std::size_t>(test.count))
                                    : static_cast<std::size_t>(test.count);
    eval::MetricAccumulator metric(task);
    for (const auto& idx : eval::batchesOf(n, 256))
        metric.add(expertOutput(config, encoder, headConfig, head, imagesToTensor(test, idx)), demoTargets(task, test, idx));
    return metric.value();
}

}  // namespace ms::core::demo
