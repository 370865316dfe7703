#include "core/kit/metrics.h"

#include <cmath>

#include "core/errors.h"

namespace ms::core::kit {

namespace {
constexpr Metric kAll[] = {Metric::Accuracy,  Metric::MeanIoU,   Metric::PixelAccuracy, Metric::Rmse,
                           Metric::AbsError,  Metric::RelError,  Metric::Delta1,        Metric::MeanAngle,
                           Metric::MedianAngle, Metric::Within11, Metric::Within22,      Metric::Within30};
}  // namespace

std::string metricName(Metric m) {
    switch (m) {
        case Metric::Accuracy: return "accuracy";
        case Metric::MeanIoU: return "miou";
        case Metric::PixelAccuracy: return "pixel_accuracy";
        case Metric::Rmse: return "rmse";
        case Metric::AbsError: return "abs_error";
        case Metric::RelError: return "rel_error";
        case Metric::Delta1: return "delta1";
        case Metric::MeanAngle: return "mean_angle";
        case Metric::MedianAngle: return "median_angle";
        case Metric::Within11: return "within_11_25";
        case Metric::Within22: return "within_22_5";
        case Metric::Within30: return "within_30";
    }
    return "?";
}

Metric parseMetric(const std::string& name) {
    std::string all;
    for (Metric m : kAll) {
        if (metricName(m) == name) return m;
        all += (all.empty() ? "" : ", ") + metricName(m);
    }
    throw InvalidArgument("unknown metric '" + name + "' (" + all + ")");
}

bool higherIsBetter(Metric m) {
    switch (m) {
        case Metric::Rmse:
        case Metric::AbsError:
        case Metric::RelError:
        case Metric::MeanAngle:
        case Metric::MedianAngle: return false;
        default: return true;
    }
}

double accuracy(const std::vector<std::int32_t>& predicted, const std::vector<std::int32_t>& labels) {
    if (predicted.size() != labels.size() || labels.empty()) throw InvalidArgument("accuracy: sizes differ or empty");
    std::size_t hit = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) hit += predicted[i] == labels[i];
    return static_cast<double>(hit) / static_cast<double>(labels.size());
}

double meanIoU(const std::vector<std::int32_t>& predicted, const std::vector<std::int32_t>& truth, int classes) {
    if (predicted.size() != truth.size() || truth.empty()) throw InvalidArgument("mIoU: sizes differ or empty");
    std::vector<std::uint64_t> inter(static_cast<std::size_t>(classes), 0), uni(static_cast<std::size_t>(classes), 0);
    for (std::size_t i = 0; i < truth.size(); ++i) {
        const auto p = static_cast<std::size_t>(predicted[i]), t = static_cast<std::size_t>(truth[i]);
        if (p >= inter.size() || t >= inter.size()) throw InvalidArgument("mIoU: class index out of range");
        if (p == t) {
            ++inter[p];
            ++uni[p];
        } else {
            ++uni[p];
            ++uni[t];
        }
    }
    double sum = 0;
    int present = 0;
    for (std::size_t c = 0; c < inter.size(); ++c)
        if (uni[c] > 0) {
            sum += static_cast<double>(inter[c]) / static_cast<double>(uni[c]);
            ++present;
        }
    return present ? sum / present : 0.0;
}

double rmse(const float* predicted, const float* truth, std::size_t n) {
    if (n == 0) throw InvalidArgument("rmse: empty");
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(predicted[i]) - truth[i];
        s += d * d;
    }
    return std::sqrt(s / static_cast<double>(n));
}

double normalizedPerformance(Metric m, double merged, double expert) {
    if (higherIsBetter(m)) return expert != 0 ? merged / expert : 0.0;
    return merged != 0 ? expert / merged : 0.0;
}

}  // namespace ms::core::kit
