// Batches of a task for torch: images as a tensor, the task's targets (class labels, per-pixel
// classes derived from the pixels, per-pixel regression maps), its training loss, and a metric
// accumulator over many batches. Shared by the demo kit's training and downstream evaluation.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/data/image_set.h"
#include "core/demo/demo_tasks.h"

namespace ms::core::eval {

// Images at `indices` as a [B, C, H, W] float tensor scaled to [-1, 1].
at::Tensor imagesToTensor(const data::ImageSet& set, const std::vector<std::size_t>& indices);
// `batch` row indices drawn with replacement from [0, pool) (int64 tensor), and the same as indices.
at::Tensor randomRows(std::mt19937_64& rng, std::int64_t pool, int batch);
std::vector<std::size_t> rowsToIndices(const at::Tensor& rows);

// The first n images (or all) as consecutive index lists of at most `batch`.
std::vector<std::vector<std::size_t>> batchesOf(std::size_t n, std::size_t batch);

// Classification: int64 [B] labels; segmentation: int64 [B, H, W]; regression: float [B, 1, H, W].
at::Tensor taskTargets(const demo::DemoTask& task, const data::ImageSet& set, const std::vector<std::size_t>& indices);
// Cross-entropy (classification, segmentation) or mean squared error (regression).
at::Tensor taskLoss(const demo::DemoTask& task, const at::Tensor& output, const at::Tensor& targets);

// Every target of a whole set (as taskTargets), computed once.
at::Tensor allTargets(const demo::DemoTask& task, const data::ImageSet& set);

// The task's metric over any number of batches (accuracy, mIoU, RMSE on all pixels), from
// running sums: a confusion matrix (classification, segmentation) or the squared error
// (regression) — memory does not grow with the number of images.
class MetricAccumulator {
public:
    explicit MetricAccumulator(const demo::DemoTask& task);
    void add(const at::Tensor& output, const at::Tensor& targets);
    double value() const;

private:
    demo::DemoTask m_task;
    at::Tensor m_confusion;  // [K·K] int64: truth · K + predicted
    double m_squaredError = 0;
    std::int64_t m_count = 0;
};

}  // namespace ms::core::eval
