#include "core/demo/demo_tasks.h"

#include <cmath>

#include "core/errors.h"

namespace ms::core::demo {

const std::vector<DemoTask>& demoTasks() {
    static const std::vector<DemoTask> tasks = {
        {{"fashion-class", "fashion-mnist", TaskType::Classification, kit::Metric::Accuracy, 10}, 0},
        {{"fashion-seg", "fashion-mnist", TaskType::Segmentation, kit::Metric::MeanIoU, 2}, 0},
        {{"fashion-edges", "fashion-mnist", TaskType::Regression, kit::Metric::Rmse, 1}, 0},
        {{"digits-class", "mnist-digits", TaskType::Classification, kit::Metric::Accuracy, 10}, 2},
    };
    return tasks;
}

const DemoTask& findDemoTask(const std::string& name) {
    for (const auto& t : demoTasks())
        if (t.name == name) return t;
    throw InvalidArgument("unknown demo task '" + name + "'");
}

void segmentationTarget(const std::uint8_t* image, int h, int w, std::int32_t* out) {
    for (int i = 0; i < h * w; ++i) out[i] = image[i] > kForegroundThreshold ? 1 : 0;
}

void edgeTarget(const std::uint8_t* image, int h, int w, float* out) {
    // Sobel with zero padding on pixels scaled to [0, 1]; the largest possible magnitude is 4√2.
    const auto px = [&](int y, int x) -> float {
        return (y < 0 || x < 0 || y >= h || x >= w) ? 0.0f : static_cast<float>(image[y * w + x]) / 255.0f;
    };
    const float scale = 1.0f / (4.0f * std::sqrt(2.0f));
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const float gx = (px(y - 1, x + 1) + 2 * px(y, x + 1) + px(y + 1, x + 1)) -
                             (px(y - 1, x - 1) + 2 * px(y, x - 1) + px(y + 1, x - 1));
            const float gy = (px(y + 1, x - 1) + 2 * px(y + 1, x) + px(y + 1, x + 1)) -
                             (px(y - 1, x - 1) + 2 * px(y - 1, x) + px(y - 1, x + 1));
            out[y * w + x] = std::sqrt(gx * gx + gy * gy) * scale;
        }
}

}  // namespace ms::core::demo
