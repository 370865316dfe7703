#include "core/eval/task_batches.h"

#include "core/errors.h"
#include "core/kit/metrics.h"

#include <cmath>

namespace ms::core::eval {

using kit::TaskType;

at::Tensor imagesToTensor(const data::ImageSet& set, const std::vector<std::size_t>& indices) {
    const auto B = static_cast<std::int64_t>(indices.size());
    at::Tensor t = at::empty({B, set.channels, set.height, set.width}, at::kFloat);
    float* dst = t.data_ptr<float>();
    // One table per channel: v/(255·std) − mean/std, in float as (v / 127.5 − 1) for [-1, 1].
    std::vector<float> lut(static_cast<std::size_t>(256 * set.channels));
    for (std::int64_t c = 0; c < set.channels; ++c) {
        const auto k = static_cast<std::size_t>(c);
        const double mean = k < set.mean.size() ? set.mean[k] : 0.5, sd = k < set.std.size() ? set.std[k] : 0.5;
        const auto scale = static_cast<float>(255.0 * sd), offset = static_cast<float>(mean / sd);
        for (int v = 0; v < 256; ++v) lut[k * 256 + static_cast<std::size_t>(v)] = static_cast<float>(v) / scale - offset;
    }
    const std::size_t n = set.imageSize(), plane = static_cast<std::size_t>(set.height * set.width);
    for (std::size_t b = 0; b < indices.size(); ++b) {
        const std::uint8_t* src = set.image(indices[b]);
        for (std::size_t i = 0; i < n; ++i) dst[b * n + i] = lut[(i / plane) * 256 + src[i]];
    }
    return t;
}

at::Tensor randomRows(std::mt19937_64& rng, std::int64_t pool, int batch) {
    at::Tensor idx = at::empty({batch}, at::kLong);
    auto* p = idx.data_ptr<std::int64_t>();
    for (int i = 0; i < batch; ++i) p[i] = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(pool));
    return idx;
}

std::vector<std::size_t> rowsToIndices(const at::Tensor& rows) {
    const auto* p = rows.data_ptr<std::int64_t>();
    return std::vector<std::size_t>(p, p + rows.numel());
}

std::vector<std::vector<std::size_t>> batchesOf(std::size_t n, std::size_t batch) {
    std::vector<std::vector<std::size_t>> out;
    for (std::size_t b0 = 0; b0 < n; b0 += batch) {
        std::vector<std::size_t> idx;
        for (std::size_t i = b0; i < std::min(n, b0 + batch); ++i) idx.push_back(i);
        out.push_back(std::move(idx));
    }
    return out;
}

at::Tensor labelTargets(const data::ImageSet& set, const std::vector<std::size_t>& idx) {
    if (set.labels.size() != static_cast<std::size_t>(set.count)) throw InvalidArgument(set.name + ": the images have no labels");
    at::Tensor t = at::empty({static_cast<std::int64_t>(idx.size())}, at::kLong);
    auto* p = t.data_ptr<std::int64_t>();
    for (std::size_t b = 0; b < idx.size(); ++b) p[b] = set.labels[idx[b]];
    return t;
}

at::Tensor taskLoss(const kit::Task& task, const at::Tensor& out, const at::Tensor& targets) {
    if (task.type == TaskType::Regression) return at::mse_loss(out, targets);
    return at::cross_entropy_loss(out, targets);
}

MetricAccumulator::MetricAccumulator(const kit::Task& task) : m_task(task) {
    if (task.type != TaskType::Regression) m_confusion = at::zeros({task.outputs * task.outputs}, at::kLong);
}

void MetricAccumulator::add(const at::Tensor& output, const at::Tensor& targets) {
    if (m_task.type == TaskType::Regression) {
        m_squaredError += (output.detach().to(at::kDouble) - targets.to(at::kDouble)).pow(2).sum().item<double>();
        m_count += targets.numel();
        return;
    }
    const std::int64_t K = m_task.outputs;
    const at::Tensor pred = output.detach().argmax(1).flatten();
    const at::Tensor truth = targets.to(at::kLong).flatten();
    m_confusion += at::bincount(truth * K + pred, {}, K * K);
    m_count += truth.numel();
}

double MetricAccumulator::value() const {
    if (m_count == 0) return 0;
    if (m_task.type == TaskType::Regression) return std::sqrt(m_squaredError / static_cast<double>(m_count));
    const std::int64_t K = m_task.outputs;
    const at::Tensor c = m_confusion.reshape({K, K});
    const auto* p = m_confusion.data_ptr<std::int64_t>();
    if (m_task.metric == kit::Metric::Accuracy) return static_cast<double>(c.trace().item<std::int64_t>()) / static_cast<double>(m_count);
    // mIoU over the classes present in the prediction or the truth (as kit::meanIoU).
    double sum = 0;
    int present = 0;
    for (std::int64_t k = 0; k < K; ++k) {
        std::int64_t row = 0, col = 0;
        for (std::int64_t j = 0; j < K; ++j) row += p[k * K + j], col += p[j * K + k];
        const std::int64_t inter = p[k * K + k], uni = row + col - inter;
        if (uni > 0) sum += static_cast<double>(inter) / static_cast<double>(uni), ++present;
    }
    return present ? sum / present : 0.0;
}

}  // namespace ms::core::eval
