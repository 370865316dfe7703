#include "core/merge/lambda_schedule.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <regex>

#include "core/errors.h"

namespace ms::core::merge {

namespace {
std::vector<double> numbers(const std::string& list, const std::string& what) {
    std::vector<double> out;
    std::size_t start = 0;
    while (start <= list.size()) {
        const std::size_t comma = std::min(list.find(',', start), list.size());
        const std::string item = list.substr(start, comma - start);
        char* end = nullptr;
        const double v = std::strtod(item.c_str(), &end);
        if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(v))
            throw InvalidArgument(what + ": '" + item + "' is not a number");
        out.push_back(v);
        start = comma + 1;
    }
    return out;
}
}  // namespace

BlockSchedule parseBlockSchedule(const std::string& text) {
    const std::string what = "--lambda-blocks " + text;
    BlockSchedule s;
    if (text.rfind("lines:", 0) == 0) {
        const std::vector<double> ab = numbers(text.substr(6), what);
        if (ab.size() != 2) throw InvalidArgument(what + ": LiNeS takes lines:ALPHA,BETA (the first block at α, the last at α + β)");
        s.curve = {ab[0], ab[0] + ab[1]};
        s.lambda = ab[0];
        return s;
    }
    if (text.find(':') != std::string::npos) throw InvalidArgument(what + ": a list of numbers or lines:ALPHA,BETA");
    s.curve = numbers(text, what);
    return s;
}

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
