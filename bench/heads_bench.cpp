// The cost of multi-block dense heads and of the dense metrics per sweep point, against the
// encoder's forward pass alone, measured in the same run:
//   forward            the encoder over N images (the floor)
//   + 4 blocks         the same forward also keeping the last four blocks (LayerNorm'd), as a
//                      DINOv2 probe reads them
//   + 3 heads          segmentation, depth and normals heads on those blocks: at the demo's size
//                      the demo's own (per patch, 6 classes), at ViT-B DINOv2 probes (13 classes)
//   + metrics          every metric of the three tasks accumulated (targets with unlabelled /
//                      invalid pixels)
// at the demo's size and at ViT-B size (DINOv2-B/14 on 280×280 crops of NYUv2's 288×384 images:
// 400 patches, 12 blocks of width 768). Random weights: the cost does not depend on them.
// Usage: bench_heads [IMAGES_VIT_B]
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/bench_util.h"
#include "core/eval/task_batches.h"
#include "core/model/heads.h"
#include "core/model/vit.h"

using namespace ms;
using namespace ms::core;

namespace {

void run(const std::string& name, kit::VitConfig c, int images, int reps, model::HeadKind kind, int classes) {
    at::manual_seed(1);
    model::ParamMap enc;
    for (const auto& [n, shape] : model::vitParamShapes(c)) enc[n] = at::randn(shape) * 0.02;
    const at::Tensor x = at::randn({images, c.channels, c.imageSize, c.imageSize});
    const std::vector<kit::Task> tasks = {{"seg", "d", kit::TaskType::Segmentation, kit::Metric::MeanIoU, classes},
                                          {"depth", "d", kit::TaskType::Depth, kit::Metric::AbsError, 1},
                                          {"normals", "d", kit::TaskType::Normals, kit::Metric::MeanAngle, 3}};
    std::vector<model::HeadConfig> heads;
    std::vector<model::ParamMap> params;
    model::ForwardOptions keep;
    for (std::size_t t = 0; t < tasks.size(); ++t) {
        model::HeadConfig h;
        h.kind = kind;
        h.outputs = tasks[t].outputs;
        h.patchSize = c.patchSize;
        h.layers = {-4, -3, -2, -1};
        model::requestHeadBlocks(keep, h, c.depth);
        heads.push_back(h);
        params.push_back(model::initHead(h, c.width, t));
    }
    const auto S = static_cast<std::int64_t>(c.imageSize);
    at::Tensor seg = at::randint(0, classes, {images, S, S}, at::kLong);
    seg.masked_fill_(at::rand({images, S, S}).lt(0.2), -1);
    at::Tensor depth = at::rand({images, 1, S, S}) * 5 + 0.5;
    depth.masked_fill_(at::rand({images, 1, S, S}).lt(0.1), std::nan(""));
    at::Tensor normals = at::randn({images, 3, S, S});
    normals = normals / normals.norm(2, 1, true);
    const std::vector<at::Tensor> targets = {seg, depth, normals};

    at::NoGradGuard noGrad;
    bench::sink(model::vitForward(c, enc, x, keep).tokens.sum().item<double>());  // warm-up (allocator, oneDNN primitives)
    const double forward = bench::bestSeconds(reps, [&] { bench::sink(model::vitForward(c, enc, x).tokens.sum().item<double>()); });
    const double blocks = bench::bestSeconds(reps, [&] {
        const auto f = model::vitForward(c, enc, x, keep);
        bench::sink(f.blocks.back().sum().item<double>());
    });
    std::vector<at::Tensor> outs(tasks.size());
    const double withHeads = bench::bestSeconds(reps, [&] {
        const auto f = model::vitForward(c, enc, x, keep);
        for (std::size_t t = 0; t < tasks.size(); ++t) outs[t] = model::headForward(heads[t], params[t], model::headTokens(heads[t], f, c.depth));
        bench::sink(outs[0].sum().item<double>());
    });
    const double metrics = bench::bestSeconds(reps, [&] {
        for (std::size_t t = 0; t < tasks.size(); ++t) {
            eval::MetricAccumulator m(tasks[t]);
            m.add(outs[t], targets[t]);
            for (const auto& [metric, v] : m.values()) bench::sink(v);
        }
    });
    std::printf("%-34s %4d images  forward %8.1f ms   +4 blocks ×%.3f   +3 heads ×%.3f   +metrics ×%.3f (metrics alone %.1f ms)\n",
                name.c_str(), images, forward * 1e3, blocks / forward, withHeads / forward, (withHeads + metrics) / forward, metrics * 1e3);
}

}  // namespace

int main(int argc, char** argv) {
    const int vitB = argc > 1 ? std::atoi(argv[1]) : 4;
    std::printf("multi-block dense heads and dense metrics vs the forward pass (%d LibTorch threads); ×: time / forward alone\n",
                at::get_num_threads());
    kit::VitConfig demo;  // the demo kit's encoder (docs/demo-kit.md), its heads per patch, 6 classes
    demo.imageSize = 28;
    demo.channels = 1;
    demo.patchSize = 7;
    demo.width = 64;
    demo.depth = 4;
    demo.heads = 4;
    run("demo (28 px, patch 7, 64 × 4 blocks)", demo, 1000, 5, model::HeadKind::Dense, 6);
    kit::VitConfig b;
    b.imageSize = 280;
    b.channels = 3;
    b.patchSize = 14;
    b.width = 768;
    b.depth = 12;
    b.heads = 12;
    b.layerScale = true;
    run("ViT-B/14 (280 px, 400 patches)", b, vitB, 3, model::HeadKind::DenseProbe, 13);
    return 0;
}
