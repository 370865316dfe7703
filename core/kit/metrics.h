// Task metrics (no torch): their names, their direction, and reference computations on plain
// arrays. Downstream evaluation accumulates them over whole splits (eval/task_batches.h); each
// task type reports the set docs/sweeps.md lists (task.h: metricsOf), one of them primary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ms::core::kit {

enum class Metric {
    Accuracy,       // classification
    MeanIoU,        // segmentation: mean over classes present in prediction or truth of ∩/∪
    PixelAccuracy,  // segmentation: fraction of labelled pixels right
    Rmse,           // regression, depth: √mean (p − t)² over valid pixels
    AbsError,       // depth: mean |p − t|
    RelError,       // depth: mean |p − t| / t
    Delta1,         // depth: fraction with max(p/t, t/p) < 1.25
    MeanAngle,      // normals: mean angle between prediction and truth, degrees
    MedianAngle,    // normals: median angle, degrees
    Within11,       // normals: percent of pixels within 11.25°
    Within22,       // normals: within 22.5°
    Within30,       // normals: within 30°
};

// accuracy, miou, pixel_accuracy, rmse, abs_error, rel_error, delta1, mean_angle, median_angle,
// within_11_25, within_22_5, within_30
std::string metricName(Metric m);
Metric parseMetric(const std::string& name);
bool higherIsBetter(Metric m);

// Fraction of predictions equal to the labels.
double accuracy(const std::vector<std::int32_t>& predicted, const std::vector<std::int32_t>& labels);

// Mean over classes of |pred ∩ truth| / |pred ∪ truth| (per pixel), over the classes present in
// the prediction or the truth (a class absent from both is left out, as usual).
double meanIoU(const std::vector<std::int32_t>& predicted, const std::vector<std::int32_t>& truth, int classes);

double rmse(const float* predicted, const float* truth, std::size_t n);

// merged / expert, inverted for lower-is-better metrics (expert / merged).
double normalizedPerformance(Metric m, double merged, double expert);

}  // namespace ms::core::kit
