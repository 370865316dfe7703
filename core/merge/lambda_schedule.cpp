#include "core/merge/lambda_schedule.h"

#include <cmath>
#include <regex>

#include "core/errors.h"

namespace ms::core::merge {

double interpolateCurve(const std::vector<double>& curve, int index, int count) {
    if (curve.size() == 1 || count <= 1) return curve.front();
    const double pos = static_cast<double>(index) / (count - 1) * static_cast<double>(curve.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    if (lo + 1 >= curve.size()) return curve.back();
    const double f = pos - static_cast<double>(lo);
    return curve[lo] * (1 - f) + curve[lo + 1] * f;
}

double LambdaSchedule::lambdaFor(const std::string& name, int block, int blockCount, double globalLambda) const {
    double lambda = globalLambda;
    if (!blockCurve.empty() && block >= 0) lambda = interpolateCurve(blockCurve, block, blockCount);
    for (const auto& [pattern, value] : overrides) {
        try {
            if (std::regex_search(name, std::regex(pattern))) lambda = value;
        } catch (const std::regex_error& e) {
            throw InvalidArgument("lambda override pattern '" + pattern + "' is not a valid regex: " + e.what());
        }
    }
    return lambda;
}

}  // namespace ms::core::merge
