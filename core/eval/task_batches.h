// Batches of a task for torch: images as a tensor, class-label targets, the task's training loss,
// and a metric accumulator over many batches. Shared by the demo kit's training and downstream
// evaluation. (Dense targets come with the kit: files of a user kit, or the demo's definitions.)
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/data/image_set.h"
#include "core/kit/task.h"

namespace ms::core::eval {

// Images at `indices` as a [B, C, H, W] float tensor, normalised per channel with the set's
// mean and std ((x/255 − mean)/std; [-1, 1] when the set names none).
at::Tensor imagesToTensor(const data::ImageSet& set, const std::vector<std::size_t>& indices);
// `batch` row indices drawn with replacement from [0, pool) (int64 tensor), and the same as indices.
at::Tensor randomRows(std::mt19937_64& rng, std::int64_t pool, int batch);
std::vector<std::size_t> rowsToIndices(const at::Tensor& rows);

// The first n images (or all) as consecutive index lists of at most `batch`.
std::vector<std::vector<std::size_t>> batchesOf(std::size_t n, std::size_t batch);

// The class labels at `indices` as int64 [B] (InvalidArgument when the set has none).
at::Tensor labelTargets(const data::ImageSet& set, const std::vector<std::size_t>& indices);
// Normals as stored → unit vectors float [N, 3, H, W], NaN on invalid pixels. `stored` [N, 3, H, W]
// holds 8- or 16-bit RGB codes of (n + 1)/2 (`bits` 8 or 16; a black pixel is invalid), or the
// vectors themselves (`bits` 32; the zero vector or a non-finite value is invalid). The truth is
// made unit length.
at::Tensor normalsFromStored(at::Tensor stored, int bits);

// Targets by task type: classification int64 [B]; segmentation int64 [B, H, W] with -1 on
// ignored pixels; regression float [B, 1, H, W]; depth float [B, 1, H, W] and normals float
// [B, 3, H, W], NaN on invalid pixels. Ignored and invalid pixels count in no loss and no metric.
//
// The training loss: cross-entropy (classification; segmentation, ignoring -1), mean squared
// error (regression), L1 over valid pixels (depth), 1 − cosine between the L2-normalised
// prediction and the truth over valid pixels (normals). A batch with no valid pixel gives 0.
at::Tensor taskLoss(const kit::Task& task, const at::Tensor& output, const at::Tensor& targets);

// The task's metrics over any number of batches, accumulated over the whole split (not averaged
// per batch): a confusion matrix (classification, segmentation), error sums (regression,
// depth), the angles' sum, threshold counts and a histogram of 0.001° bins (normals: the median
// to within 0.0005° in 1.4 MB, whatever the number of pixels).
class MetricAccumulator {
public:
    explicit MetricAccumulator(const kit::Task& task);
    void add(const at::Tensor& output, const at::Tensor& targets);
    double value() const;  // the task's primary metric
    // Every metric of the task's type (kit::metricsOf), in that order.
    std::vector<std::pair<kit::Metric, double>> values() const;
    double value(kit::Metric m) const;

private:
    kit::Task m_task;
    at::Tensor m_confusion;  // [K·K] int64: truth · K + predicted
    double m_squaredError = 0, m_absError = 0, m_relError = 0;
    std::int64_t m_count = 0, m_relCount = 0, m_delta1 = 0;
    static constexpr int kAngleBins = 180000;  // 0.001° each over [0°, 180°]
    std::vector<std::int64_t> m_angleBins;    // normals
    double m_angleSum = 0;
    std::int64_t m_within[3] = {0, 0, 0};     // < 11.25°, < 22.5°, < 30°
};

}  // namespace ms::core::eval
