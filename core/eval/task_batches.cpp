#include "core/eval/task_batches.h"

#include "core/eval/metrics.h"

namespace ms::core::eval {

using demo::TaskType;

at::Tensor imagesToTensor(const data::ImageSet& set, const std::vector<std::size_t>& indices) {
    const auto B = static_cast<std::int64_t>(indices.size());
    at::Tensor t = at::empty({B, set.channels, set.height, set.width}, at::kFloat);
    float* dst = t.data_ptr<float>();
    const std::size_t n = set.imageSize();
    for (std::size_t b = 0; b < indices.size(); ++b) {
        const std::uint8_t* src = set.image(indices[b]);
        for (std::size_t i = 0; i < n; ++i) dst[b * n + i] = static_cast<float>(src[i]) / 127.5f - 1.0f;
    }
    return t;
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

at::Tensor taskTargets(const demo::DemoTask& task, const data::ImageSet& set, const std::vector<std::size_t>& idx) {
    const int h = static_cast<int>(set.height), w = static_cast<int>(set.width);
    const auto B = static_cast<std::int64_t>(idx.size());
    switch (task.type) {
        case TaskType::Classification: {
            at::Tensor t = at::empty({B}, at::kLong);
            auto* p = t.data_ptr<std::int64_t>();
            for (std::size_t b = 0; b < idx.size(); ++b) p[b] = set.labels[idx[b]];
            return t;
        }
        case TaskType::Segmentation: {
            at::Tensor t = at::empty({B, h, w}, at::kInt);
            for (std::int64_t b = 0; b < B; ++b)
                demo::segmentationTarget(set.image(idx[static_cast<std::size_t>(b)]), h, w, t[b].data_ptr<std::int32_t>());
            return t.to(at::kLong);
        }
        case TaskType::Regression: {
            at::Tensor t = at::empty({B, 1, h, w}, at::kFloat);
            for (std::int64_t b = 0; b < B; ++b)
                demo::edgeTarget(set.image(idx[static_cast<std::size_t>(b)]), h, w, t[b].data_ptr<float>());
            return t;
        }
    }
    return {};
}

at::Tensor taskLoss(const demo::DemoTask& task, const at::Tensor& out, const at::Tensor& targets) {
    if (task.type == TaskType::Regression) return at::mse_loss(out, targets);
    return at::cross_entropy_loss(out, targets);
}

void MetricAccumulator::add(const at::Tensor& output, const at::Tensor& targets) {
    if (m_task.type == TaskType::Regression) {
        const at::Tensor o = output.detach().to(at::kFloat).contiguous(), t = targets.to(at::kFloat).contiguous();
        m_out.insert(m_out.end(), o.data_ptr<float>(), o.data_ptr<float>() + o.numel());
        m_target.insert(m_target.end(), t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
        return;
    }
    const at::Tensor pred = output.detach().argmax(1).to(at::kInt).contiguous();
    const at::Tensor t = targets.to(at::kInt).contiguous();
    m_predicted.insert(m_predicted.end(), pred.data_ptr<std::int32_t>(), pred.data_ptr<std::int32_t>() + pred.numel());
    m_truth.insert(m_truth.end(), t.data_ptr<std::int32_t>(), t.data_ptr<std::int32_t>() + t.numel());
}

double MetricAccumulator::value() const {
    switch (m_task.metric) {
        case Metric::Accuracy: return accuracy(m_predicted, m_truth);
        case Metric::MeanIoU: return meanIoU(m_predicted, m_truth, m_task.outputs);
        case Metric::Rmse: return rmse(m_out.data(), m_target.data(), m_out.size());
    }
    return 0;
}

}  // namespace ms::core::eval
