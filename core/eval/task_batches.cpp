#include "core/eval/task_batches.h"

#include <limits>

#include <algorithm>
#include <cmath>

#include "core/errors.h"
#include "core/kit/metrics.h"

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

namespace {

// Mean of `perPixel` over `valid` (bool, same shape); 0 when nothing is valid.
at::Tensor maskedMean(const at::Tensor& perPixel, const at::Tensor& valid) {
    return (perPixel * valid).sum() / valid.sum().clamp_min(1);
}

// Normals: the cosine between the L2-normalised prediction and the truth, and which pixels
// count ([B, H, W] each).
std::pair<at::Tensor, at::Tensor> normalsCosine(const at::Tensor& out, const at::Tensor& targets) {
    const at::Tensor valid = at::isfinite(targets).all(1);
    const at::Tensor truth = at::nan_to_num(targets, 0.0);
    const at::Tensor pred = out / out.norm(2, 1, true).clamp_min(1e-12);
    return {(pred * truth).sum(1), valid};
}

}  // namespace

at::Tensor normalsFromStored(at::Tensor v, int bits) {
    at::Tensor invalid;
    if (bits <= 16) {
        invalid = v.eq(0).all(1, true);
        v = v / (bits == 16 ? 65535.0f : 255.0f) * 2.0f - 1.0f;
    } else {
        invalid = v.eq(0).all(1, true) | ~at::isfinite(v).all(1, true);
    }
    v = v / v.norm(2, 1, true).clamp_min(1e-12);
    return v.masked_fill(invalid.expand_as(v), std::numeric_limits<float>::quiet_NaN());
}

at::Tensor taskLoss(const kit::Task& task, const at::Tensor& out, const at::Tensor& targets) {
    switch (task.type) {
        case TaskType::Regression: return at::mse_loss(out, targets);
        case TaskType::Depth: {
            const at::Tensor valid = at::isfinite(targets);
            return maskedMean((out - at::nan_to_num(targets, 0.0)).abs(), valid);
        }
        case TaskType::Normals: {
            const auto [cosine, valid] = normalsCosine(out, targets);
            return maskedMean(1.0 - cosine, valid);
        }
        case TaskType::Segmentation: {
            const at::Tensor sum = at::cross_entropy_loss(out, targets, {}, at::Reduction::Sum, -1);
            return sum / targets.ge(0).sum().clamp_min(1);
        }
        default: return at::cross_entropy_loss(out, targets);
    }
}

MetricAccumulator::MetricAccumulator(const kit::Task& task) : m_task(task) {
    if (!kit::predictsValues(task.type)) m_confusion = at::zeros({task.outputs * task.outputs}, at::kLong);
    if (task.type == TaskType::Normals) m_angleBins.assign(kAngleBins, 0);
}

void MetricAccumulator::add(const at::Tensor& output, const at::Tensor& targets) {
    const at::Tensor out = output.detach();
    switch (m_task.type) {
        case TaskType::Regression:
            m_squaredError += (out.to(at::kDouble) - targets.to(at::kDouble)).pow(2).sum().item<double>();
            m_count += targets.numel();
            return;
        case TaskType::Depth: {
            const at::Tensor valid = at::isfinite(targets);
            const at::Tensor p = out.to(at::kDouble).masked_select(valid), t = targets.to(at::kDouble).masked_select(valid);
            const at::Tensor d = p - t;
            m_squaredError += d.pow(2).sum().item<double>();
            m_absError += d.abs().sum().item<double>();
            const at::Tensor nz = t.ne(0);
            m_relError += (d.abs().masked_select(nz) / t.masked_select(nz).abs()).sum().item<double>();
            m_relCount += nz.sum().item<std::int64_t>();
            const at::Tensor pos = p.gt(0) & t.gt(0);
            const at::Tensor pp = p.masked_select(pos), tt = t.masked_select(pos);
            m_delta1 += at::maximum(pp / tt, tt / pp).lt(1.25).sum().item<std::int64_t>();
            m_count += p.numel();
            return;
        }
        case TaskType::Normals: {
            const auto [cosine, valid] = normalsCosine(out.to(at::kDouble), targets.to(at::kDouble));
            const at::Tensor angles = at::rad2deg(at::acos(cosine.masked_select(valid).clamp(-1.0, 1.0))).contiguous();  // float64
            const double* a = angles.data_ptr<double>();
            for (std::int64_t i = 0; i < angles.numel(); ++i) {
                m_angleSum += a[i];
                m_within[0] += a[i] < 11.25;
                m_within[1] += a[i] < 22.5;
                m_within[2] += a[i] < 30.0;
                ++m_angleBins[static_cast<std::size_t>(std::clamp(static_cast<int>(a[i] * 1000.0), 0, kAngleBins - 1))];
            }
            m_count += angles.numel();
            return;
        }
        default: {
            const std::int64_t K = m_task.outputs;
            const at::Tensor truth = targets.to(at::kLong).flatten();
            const at::Tensor valid = truth.ge(0);
            // Ignored pixels counted in an extra bin that is dropped: one pass, no compaction.
            const at::Tensor cell = at::where(valid, truth * K + out.argmax(1).flatten(), at::full({}, K * K, at::kLong));
            m_confusion += at::bincount(cell, {}, K * K + 1).narrow(0, 0, K * K);
            m_count += valid.sum().item<std::int64_t>();
        }
    }
}

double MetricAccumulator::value() const { return value(m_task.metric); }

std::vector<std::pair<kit::Metric, double>> MetricAccumulator::values() const {
    std::vector<std::pair<kit::Metric, double>> out;
    for (kit::Metric m : kit::metricsOf(m_task.type)) out.emplace_back(m, value(m));
    return out;
}

double MetricAccumulator::value(kit::Metric m) const {
    using M = kit::Metric;
    if (m_count == 0) return std::nan("");
    const auto n = static_cast<double>(m_count);
    switch (m) {
        case M::Rmse: return std::sqrt(m_squaredError / n);
        case M::AbsError: return m_absError / n;
        case M::RelError: return m_relCount ? m_relError / static_cast<double>(m_relCount) : std::nan("");
        case M::Delta1: return static_cast<double>(m_delta1) / n;
        case M::MeanAngle: return m_angleSum / n;
        case M::MedianAngle: {  // as numpy.median (the mean of the two middle values for an even count), to a bin's centre
            const auto valueAt = [&](std::int64_t rank) {  // the rank-th smallest angle (0-based)
                std::int64_t seen = 0;
                for (int b = 0; b < kAngleBins; ++b)
                    if ((seen += m_angleBins[static_cast<std::size_t>(b)]) > rank) return (b + 0.5) / 1000.0;
                return 180.0;
            };
            const std::int64_t mid = m_count / 2;
            return m_count % 2 ? valueAt(mid) : (valueAt(mid - 1) + valueAt(mid)) / 2;
        }
        case M::Within11: return 100.0 * static_cast<double>(m_within[0]) / n;
        case M::Within22: return 100.0 * static_cast<double>(m_within[1]) / n;
        case M::Within30: return 100.0 * static_cast<double>(m_within[2]) / n;
        default: break;
    }
    if (!m_confusion.defined()) return std::nan("");
    const std::int64_t K = m_task.outputs;
    const auto* p = m_confusion.data_ptr<std::int64_t>();
    std::int64_t diagonal = 0;
    for (std::int64_t k = 0; k < K; ++k) diagonal += p[k * K + k];
    if (m == M::Accuracy || m == M::PixelAccuracy) return static_cast<double>(diagonal) / n;
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
