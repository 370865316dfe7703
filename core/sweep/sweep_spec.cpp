#include "core/sweep/sweep_spec.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/data/sampling.h"
#include "core/errors.h"

namespace ms::core::sweep {

const char* sweepKindName(SweepKind k) { return k == SweepKind::Relations ? "relations" : "merge"; }

SweepKind parseSweepKind(const std::string& name, const std::string& source) {
    if (name == "merge") return SweepKind::Merge;
    if (name == "relations") return SweepKind::Relations;
    throw FormatError(source, "unknown sweep kind '" + name + "' (known: merge, relations)");
}

namespace {

double parseNumber(const std::string& s, const std::string& context) {
    try {
        std::size_t used = 0;
        const double v = std::stod(s, &used);
        if (used != s.size() || !std::isfinite(v)) throw std::invalid_argument(s);
        return v;
    } catch (const std::exception&) {
        throw InvalidArgument(context + ": '" + s + "' is not a number");
    }
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const auto p = s.find(sep, start);
        out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
        if (p == std::string::npos) return out;
        start = p + 1;
    }
}

// Uniform in [0, 1) from 53 random bits: the same on every standard library.
double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

std::string samplingName(TaskSampling::Kind k) {
    return k == TaskSampling::Kind::Random ? "random" : k == TaskSampling::Kind::LatinHypercube ? "lhs" : "none";
}

}  // namespace

std::string GridAxis::label() const { return task.empty() ? param : param + "[" + task + "]"; }

std::pair<std::string, std::string> splitLabel(const std::string& label) {
    const auto open = label.find('[');
    if (open == std::string::npos || label.back() != ']') return {label, ""};
    return {label.substr(0, open), label.substr(open + 1, label.size() - open - 2)};
}

GridAxis parseGridAxis(const std::string& text) {
    const std::string context = "--grid '" + text + "' (e.g. lambda=0:1.5:16, density=0.1,0.2, weight[TASK]=0:1:5)";
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) throw InvalidArgument(context + ": expected NAME=VALUES");
    GridAxis axis;
    std::tie(axis.param, axis.task) = splitLabel(text.substr(0, eq));
    if (axis.param.empty()) throw InvalidArgument(context + ": empty parameter name");
    const std::string values = text.substr(eq + 1);
    if (values.find(':') != std::string::npos) {
        const auto parts = split(values, ':');
        if (parts.size() != 3) throw InvalidArgument(context + ": a range is START:STOP:COUNT");
        const double a = parseNumber(parts[0], context), b = parseNumber(parts[1], context);
        const double n = parseNumber(parts[2], context);
        if (n < 1 || n != std::floor(n) || n > 100000) throw InvalidArgument(context + ": COUNT must be a whole number from 1 to 100000");
        const int count = static_cast<int>(n);
        for (int i = 0; i < count; ++i) axis.values.push_back(count == 1 ? a : a + (b - a) * i / (count - 1));
    } else {
        for (const auto& v : split(values, ',')) axis.values.push_back(parseNumber(v, context));
    }
    return axis;
}

TaskSampling parseTaskSampling(const std::string& text) {
    const std::string context = "--task-weights '" + text + "' (random:N[:LO:HI] or lhs:N[:LO:HI])";
    const auto parts = split(text, ':');
    if (parts.size() != 2 && parts.size() != 4) throw InvalidArgument(context + ": wrong number of fields");
    TaskSampling s;
    if (parts[0] == "random") s.kind = TaskSampling::Kind::Random;
    else if (parts[0] == "lhs") s.kind = TaskSampling::Kind::LatinHypercube;
    else throw InvalidArgument(context + ": unknown sampling '" + parts[0] + "'");
    const double n = parseNumber(parts[1], context);
    if (n < 1 || n != std::floor(n) || n > 100000) throw InvalidArgument(context + ": N must be a whole number from 1 to 100000");
    s.count = static_cast<int>(n);
    if (parts.size() == 4) {
        s.lo = parseNumber(parts[2], context);
        s.hi = parseNumber(parts[3], context);
        if (!(s.lo <= s.hi)) throw InvalidArgument(context + ": LO must not exceed HI");
    }
    return s;
}

std::string SweepSpec::toJson() const {
    nlohmann::ordered_json j;
    j["kind"] = sweepKindName(kind);
    j["merge"] = nlohmann::ordered_json::parse(merge::toJson(merge));
    j["axes"] = nlohmann::ordered_json::array();
    for (const auto& a : axes) j["axes"].push_back({{"param", a.param}, {"task", a.task}, {"values", a.values}});
    j["task_weights"] = {{"kind", samplingName(sampling.kind)}, {"count", sampling.count}, {"lo", sampling.lo},
                         {"hi", sampling.hi}, {"param", sampling.param}};
    j["seed"] = seed;
    return j.dump();
}

namespace {
// Schema 1 kept the fixed settings as --set strings; per-model lists ("0.3,0.7") by model index.
merge::MergeSpec legacyMergeSpec(const nlohmann::json& j) {
    merge::MergeSpec m;
    m.method = j.at("method").get<std::string>();
    std::vector<merge::ParamValues> perModel;
    for (const auto& set : j.at("sets").get<std::vector<std::string>>()) {
        const auto eq = set.find('=');
        if (eq == std::string::npos) throw InvalidArgument("sweep spec: setting '" + set + "' is not key=value");
        const std::string key = set.substr(0, eq), value = set.substr(eq + 1);
        const auto parts = split(value, ',');
        if (parts.size() == 1) {
            m.params[key] = value;
            continue;
        }
        perModel.resize(std::max(perModel.size(), parts.size()));
        for (std::size_t i = 0; i < parts.size(); ++i) perModel[i][key] = parts[i];
    }
    for (auto& p : perModel) m.models.push_back({"", "", std::move(p), ""});
    if (j.contains("lambda_blocks")) m.lambda.blockCurve = j.at("lambda_blocks").get<std::vector<double>>();
    return m;
}
}  // namespace

SweepSpec SweepSpec::fromJson(const std::string& text) {
    try {
        const auto j = nlohmann::json::parse(text);
        SweepSpec s;
        s.kind = parseSweepKind(j.at("kind").get<std::string>(), "sweep spec");
        s.merge = j.contains("merge") ? merge::mergeSpecFromJson(j.at("merge").dump(), "sweep spec") : legacyMergeSpec(j);
        for (const auto& a : j.at("axes"))
            s.axes.push_back({a.at("param").get<std::string>(), a.at("task").get<std::string>(), a.at("values").get<std::vector<double>>()});
        const auto& tw = j.at("task_weights");
        const std::string kind = tw.at("kind").get<std::string>();
        s.sampling.kind = kind == "random" ? TaskSampling::Kind::Random : kind == "lhs" ? TaskSampling::Kind::LatinHypercube : TaskSampling::Kind::None;
        s.sampling.count = tw.at("count").get<int>();
        s.sampling.lo = tw.at("lo").get<double>();
        s.sampling.hi = tw.at("hi").get<double>();
        s.sampling.param = tw.at("param").get<std::string>();
        s.seed = j.at("seed").get<std::uint64_t>();
        return s;
    } catch (const nlohmann::json::exception& e) {
        throw InvalidArgument(std::string("sweep spec: ") + e.what());
    } catch (const FormatError& e) {
        throw InvalidArgument(e.what());
    }
}

SweepSpec relationsSweep(GridAxis lambda) {
    SweepSpec spec;
    spec.kind = SweepKind::Relations;
    spec.merge.method = kRelationsMethod;
    spec.axes.push_back(std::move(lambda));
    return spec;
}

SweepPlan planSweep(const SweepSpec& spec, const std::vector<std::string>& tasks) {
    for (const auto& a : spec.axes) {
        if (!a.task.empty() && std::find(tasks.begin(), tasks.end(), a.task) == tasks.end()) {
            std::string known;
            for (const auto& t : tasks) known += (known.empty() ? "" : ", ") + t;
            throw InvalidArgument("--grid " + a.label() + ": no task '" + a.task + "' (tasks: " + known + ")");
        }
        if (a.values.empty()) throw InvalidArgument("--grid " + a.label() + ": no values");
    }
    SweepPlan plan;
    if (spec.kind == SweepKind::Relations) {
        if (spec.axes.size() != 1 || spec.axes[0].label() != "lambda" || spec.sampling.kind != TaskSampling::Kind::None)
            throw InvalidArgument("a relations sweep takes exactly one grid, over lambda");
        if (spec.merge.method != kRelationsMethod)
            throw InvalidArgument(std::string("a relations sweep adds task vectors by ") + kRelationsMethod + ", not " + spec.merge.method);
        plan.paramNames = {"task", "lambda"};
        for (std::size_t t = 0; t < tasks.size(); ++t)
            for (double l : spec.axes[0].values) plan.points.push_back({static_cast<double>(t), l});
        return plan;
    }
    for (const auto& a : spec.axes) {
        if (std::find(plan.paramNames.begin(), plan.paramNames.end(), a.label()) != plan.paramNames.end())
            throw InvalidArgument("--grid " + a.label() + " given twice");
        plan.paramNames.push_back(a.label());
    }
    // Cartesian product, last axis fastest.
    std::vector<std::vector<double>> grid = {{}};
    for (const auto& a : spec.axes) {
        std::vector<std::vector<double>> next;
        for (const auto& row : grid)
            for (double v : a.values) {
                next.push_back(row);
                next.back().push_back(v);
            }
        grid = std::move(next);
    }
    if (spec.sampling.kind == TaskSampling::Kind::None) {
        plan.points = std::move(grid);
        return plan;
    }
    const std::size_t T = tasks.size();
    const auto N = static_cast<std::size_t>(spec.sampling.count);
    for (const auto& t : tasks) plan.paramNames.push_back(spec.sampling.param + "[" + t + "]");
    std::mt19937_64 rng(spec.seed * 2654435761u + 11);
    std::vector<std::vector<double>> samples(N, std::vector<double>(T));
    for (std::size_t t = 0; t < T; ++t) {
        std::vector<std::size_t> strata(N);
        for (std::size_t i = 0; i < N; ++i) strata[i] = i;
        if (spec.sampling.kind == TaskSampling::Kind::LatinHypercube) data::seededShuffle(strata, rng());
        for (std::size_t i = 0; i < N; ++i) {
            const double u = spec.sampling.kind == TaskSampling::Kind::LatinHypercube
                                 ? (static_cast<double>(strata[i]) + unit(rng)) / static_cast<double>(N)
                                 : unit(rng);
            samples[i][t] = spec.sampling.lo + (spec.sampling.hi - spec.sampling.lo) * u;
        }
    }
    for (const auto& row : grid)
        for (const auto& s : samples) {
            plan.points.push_back(row);
            plan.points.back().insert(plan.points.back().end(), s.begin(), s.end());
        }
    return plan;
}

std::string Shard::text() const { return whole() ? std::string() : std::to_string(index) + "/" + std::to_string(count); }

Shard parseShard(const std::string& text) {
    const auto slash = text.find('/');
    const auto bad = [&] { return InvalidArgument("--shard " + text + ": expected I/N with 1 <= I <= N, e.g. 2/4"); };
    if (slash == std::string::npos) throw bad();
    Shard s;
    try {
        std::size_t a = 0, b = 0;
        s.index = std::stoi(text.substr(0, slash), &a);
        s.count = std::stoi(text.substr(slash + 1), &b);
        if (a != slash || b != text.size() - slash - 1) throw bad();
    } catch (const std::logic_error&) {
        throw bad();
    }
    if (s.count < 1 || s.index < 1 || s.index > s.count) throw bad();
    return s;
}

std::vector<std::size_t> shardPoints(std::size_t points, const Shard& shard) {
    if (shard.count < 1 || shard.index < 1 || shard.index > shard.count)
        throw InvalidArgument("shard " + std::to_string(shard.index) + "/" + std::to_string(shard.count) + " does not exist");
    if (static_cast<std::size_t>(shard.count) > points)
        throw InvalidArgument("--shard " + shard.text() + ": the sweep has " + std::to_string(points) + " point" +
                              (points == 1 ? "" : "s") + "; use at most that many shards");
    const std::size_t N = static_cast<std::size_t>(shard.count), I = static_cast<std::size_t>(shard.index);
    std::vector<std::size_t> out;
    for (std::size_t i = (I - 1) * points / N; i < I * points / N; ++i) out.push_back(i);
    return out;
}

}  // namespace ms::core::sweep
