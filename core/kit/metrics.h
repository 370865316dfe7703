// Task metrics on plain arrays (no torch): what downstream evaluation reports per task, and what
// normalized performance divides. Higher is better for accuracy and mIoU, lower for RMSE.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ms::core::kit {

enum class Metric { Accuracy, MeanIoU, Rmse };

std::string metricName(Metric m);  // "accuracy", "miou", "rmse"
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
