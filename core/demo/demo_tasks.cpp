#include "core/demo/demo_tasks.h"

#include <algorithm>
#include <cmath>

#include "core/errors.h"

namespace ms::core::demo {

const std::vector<DemoTask>& demoTasks() {
    static const std::vector<int> lastFour = {-4, -3, -2, -1};
    static const std::vector<DemoTask> tasks = {
        {{"fashion-class", "fashion-mnist", TaskType::Classification, kit::Metric::Accuracy, 10}, 0, {}, 2, 1},
        {{"fashion-seg", "fashion-mnist", TaskType::Segmentation, kit::Metric::MeanIoU, kSegmentationClasses}, 0, lastFour, 1, 2},
        {{"fashion-depth", "fashion-mnist", TaskType::Depth, kit::Metric::AbsError, 1}, 0, lastFour, 1, 3},
        {{"fashion-normals", "fashion-mnist", TaskType::Normals, kit::Metric::MeanAngle, 3}, 0, lastFour, 1, 5},
        {{"digits-class", "mnist-digits", TaskType::Classification, kit::Metric::Accuracy, 10}, 2, {}, 1, 4},
    };
    return tasks;
}

const DemoTask& findDemoTask(const std::string& name) {
    for (const auto& t : demoTasks())
        if (t.name == name) return t;
    throw InvalidArgument("unknown demo task '" + name + "'");
}

int garmentClass(int label) {
    // Fashion-MNIST: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt,
    // 7 sneaker, 8 bag, 9 ankle boot.
    static constexpr int kClass[10] = {1, 2, 1, 3, 1, 4, 1, 4, 5, 4};
    if (label < 0 || label > 9) throw InvalidArgument("Fashion-MNIST label " + std::to_string(label) + " (0..9)");
    return kClass[label];
}

void segmentationTarget(const std::uint8_t* image, int label, int h, int w, std::uint8_t* out) {
    const auto cls = static_cast<std::uint8_t>(garmentClass(label));
    const auto fg = [&](int y, int x) { return image[y * w + x] > kForegroundThreshold; };
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const bool f = fg(y, x);
            bool band = false;  // a neighbour (8-connected, inside the image) on the other side of the outline
            for (int dy = -1; dy <= 1 && !band; ++dy)
                for (int dx = -1; dx <= 1 && !band; ++dx) {
                    const int yy = y + dy, xx = x + dx;
                    if (yy >= 0 && xx >= 0 && yy < h && xx < w && fg(yy, xx) != f) band = true;
                }
            out[y * w + x] = band ? kUnlabelled : f ? cls : 0;
        }
}

namespace {

// 1 + 2·(1 − b) for every pixel, b the pixel in [0, 1] blurred by the 5×5 binomial kernel
// ([1 4 6 4 1]/16 in each direction, zero outside the image).
std::vector<float> relief(const std::uint8_t* image, int h, int w) {
    static constexpr float k[5] = {1 / 16.f, 4 / 16.f, 6 / 16.f, 4 / 16.f, 1 / 16.f};
    std::vector<float> rows(static_cast<std::size_t>(h * w)), out(static_cast<std::size_t>(h * w));
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            float s = 0;
            for (int d = -2; d <= 2; ++d)
                if (x + d >= 0 && x + d < w) s += k[d + 2] * (static_cast<float>(image[y * w + x + d]) / 255.0f);
            rows[static_cast<std::size_t>(y * w + x)] = s;
        }
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            float s = 0;
            for (int d = -2; d <= 2; ++d)
                if (y + d >= 0 && y + d < h) s += k[d + 2] * rows[static_cast<std::size_t>((y + d) * w + x)];
            out[static_cast<std::size_t>(y * w + x)] = 1.0f + 2.0f * (1.0f - s);
        }
    return out;
}

}  // namespace

void depthTarget(const std::uint8_t* image, int h, int w, float* out) {
    const std::vector<float> d = relief(image, h, w);
    for (int i = 0; i < h * w; ++i) out[i] = image[i] > kForegroundThreshold ? d[static_cast<std::size_t>(i)] : 0.0f;
}

void normalsTarget(const std::uint8_t* image, int h, int w, std::uint8_t* out) {
    // n ∝ (−∂D/∂x, −∂D/∂y, 1) of the relief D over a grid kPixelPitch metres apart (central
    // differences, the border pixel repeated), z towards the camera.
    const std::vector<float> d = relief(image, h, w);
    const auto at = [&](int y, int x) { return d[static_cast<std::size_t>(std::clamp(y, 0, h - 1) * w + std::clamp(x, 0, w - 1))]; };
    const auto code = [](float v) { return static_cast<std::uint8_t>(std::lround((v + 1.0f) * 0.5f * 255.0f)); };
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            std::uint8_t* o = out + 3 * (y * w + x);
            if (image[y * w + x] <= kForegroundThreshold) {
                o[0] = o[1] = o[2] = 0;
                continue;
            }
            const float gx = (at(y, x + 1) - at(y, x - 1)) / (2 * kPixelPitch);
            const float gy = (at(y + 1, x) - at(y - 1, x)) / (2 * kPixelPitch);
            const float n = std::sqrt(gx * gx + gy * gy + 1.0f);
            o[0] = code(-gx / n);
            o[1] = code(-gy / n);
            o[2] = code(1.0f / n);
        }
}

}  // namespace ms::core::demo
