#include "core/merge/method_args.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "core/errors.h"

namespace ms::core::merge {

const ParamSpec* MethodInfo::find(const std::string& param) const {
    for (const auto& p : params)
        if (p.name == param) return &p;
    return nullptr;
}

std::string paramValueText(const ParamValue& v) {
    if (const auto* s = std::get_if<std::string>(&v)) return *s;
    // The shortest text that reads back as the same double: recipes and keys are lossless.
    const double x = std::get<double>(v);
    for (int precision = 15;; ++precision) {
        std::ostringstream out;
        out.precision(precision);
        out << x;
        if (precision >= 17 || std::strtod(out.str().c_str(), nullptr) == x) return out.str();
    }
}

namespace {
std::string validNames(const MethodInfo& info) {
    std::string out;
    for (const auto& p : info.params) out += (out.empty() ? "" : ", ") + p.name;
    return out.empty() ? "(none)" : out;
}

ParamValue normalise(const MethodInfo& info, const std::string& name, const ParamValue& v) {
    const ParamSpec* s = info.find(name);
    if (!s)
        throw InvalidArgument("method '" + info.name + "' has no parameter '" + name +
                              "' (its parameters: " + validNames(info) + ")");
    if (s->kind == ParamKind::Choice) {
        const std::string text = paramValueText(v);
        for (const auto& c : s->choices)
            if (c == text) return text;
        std::string all;
        for (const auto& c : s->choices) all += (all.empty() ? "" : ", ") + c;
        throw InvalidArgument("parameter '" + name + "' of '" + info.name + "' must be one of " +
                              all + ", not '" + text + "'");
    }
    double x;
    if (const auto* d = std::get_if<double>(&v)) {
        x = *d;
    } else {
        const std::string& text = std::get<std::string>(v);
        char* end = nullptr;
        x = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0')
            throw InvalidArgument("parameter '" + name + "' of '" + info.name +
                                  "' needs a number, not '" + text + "'");
    }
    if (!std::isfinite(x) || x < s->min || x > s->max) {
        std::ostringstream msg;
        msg << "parameter '" << name << "' of '" << info.name << "' must lie in [" << s->min
            << ", " << s->max << "], not " << x;
        throw InvalidArgument(msg.str());
    }
    if (s->kind == ParamKind::Integer && x != std::floor(x))
        throw InvalidArgument("parameter '" + name + "' of '" + info.name + "' must be an integer");
    return x;
}
}  // namespace

MethodArgs::MethodArgs(const MethodInfo& info, ParamValues global, std::vector<ParamValues> perModel,
                       std::size_t modelCount)
    : m_info(&info), m_modelCount(modelCount) {
    for (const auto& [k, v] : global) m_global[k] = normalise(info, k, v);
    if (perModel.size() > modelCount)
        throw InvalidArgument("per-model parameters given for " + std::to_string(perModel.size()) +
                              " models, but there are " + std::to_string(modelCount));
    perModel.resize(modelCount);
    for (auto& pm : perModel) {
        ParamValues clean;
        for (const auto& [k, v] : pm) {
            const ParamValue nv = normalise(info, k, v);
            if (!info.find(k)->perModel)
                throw InvalidArgument("parameter '" + k + "' of '" + info.name +
                                      "' applies to the whole merge, not to one model");
            clean[k] = nv;
        }
        m_perModel.push_back(std::move(clean));
    }
}

const ParamSpec& MethodArgs::spec(const std::string& name) const {
    const ParamSpec* s = m_info ? m_info->find(name) : nullptr;
    if (!s) throw InvalidArgument("internal: parameter '" + name + "' is not declared");
    return *s;
}

double MethodArgs::number(const std::string& name, int model) const {
    const ParamSpec& s = spec(name);
    if (model >= 0 && static_cast<std::size_t>(model) < m_perModel.size()) {
        const auto it = m_perModel[static_cast<std::size_t>(model)].find(name);
        if (it != m_perModel[static_cast<std::size_t>(model)].end()) return std::get<double>(it->second);
    }
    const auto it = m_global.find(name);
    return it != m_global.end() ? std::get<double>(it->second) : s.defaultNumber;
}

double gradientAt(const std::vector<double>& values, double t) {
    if (values.empty()) throw InvalidArgument("internal: an empty gradient");
    if (values.size() == 1) return values.front();
    // mergekit's evaluate_setting: scaled = t·(n − 1), i0 = int(scaled), i1 = min(n − 1, i0 + 1).
    const double scaled = t * static_cast<double>(values.size() - 1);
    const auto i0 = std::min(values.size() - 1, static_cast<std::size_t>(std::max(0.0, scaled)));
    const std::size_t i1 = std::min(values.size() - 1, i0 + 1);
    const double frac = scaled - static_cast<double>(i0);
    return (1 - frac) * values[i0] + frac * values[i1];
}

namespace {
bool ruleMatches(const TensorRule& r, const std::string& tensor) {
    return r.filter.empty() || r.filter == "*" || tensor.find(r.filter) != std::string::npos;
}
}  // namespace

double MethodArgs::numberFor(const std::string& name, int model, const std::string& tensor, double depth) const {
    // mergekit's scopes: the model's setting (rules, or its plain value), then the top-level
    // setting (rules, or the plain value), then the default.
    if (model >= 0) {
        for (const auto& r : m_rules)
            if (r.param == name && r.model == model && ruleMatches(r, tensor)) return gradientAt(r.values, depth);
        if (static_cast<std::size_t>(model) < m_perModel.size()) {
            const auto it = m_perModel[static_cast<std::size_t>(model)].find(name);
            if (it != m_perModel[static_cast<std::size_t>(model)].end()) return std::get<double>(it->second);
        }
    }
    for (const auto& r : m_rules)
        if (r.param == name && r.model == -1 && ruleMatches(r, tensor)) return gradientAt(r.values, depth);
    return number(name, model);
}

bool MethodArgs::hasRules(const std::string& name) const {
    for (const auto& r : m_rules)
        if (r.param == name) return true;
    return false;
}

std::string MethodArgs::rulesText(const std::string& name) const {
    std::string text;
    for (const auto& r : m_rules)
        if (r.param == name) {
            text += "rule" + std::to_string(r.model) + ":" + r.filter + "=";
            for (double v : r.values) text += paramValueText(v) + ",";
            text += ";";
        }
    return text;
}

void MethodArgs::setRules(std::vector<TensorRule> rules) {
    for (const auto& r : rules) {
        const ParamSpec* s = m_info ? m_info->find(r.param) : nullptr;
        if (!s)
            throw InvalidArgument("method '" + (m_info ? m_info->name : std::string("?")) + "' has no parameter '" + r.param +
                                  "' (its parameters: " + (m_info ? validNames(*m_info) : std::string("(none)")) + ")");
        if (!s->perTensor)
            throw InvalidArgument("parameter '" + r.param + "' of '" + m_info->name +
                                  "' takes one value for the whole merge" + (s->perModel ? " (per model)" : "") +
                                  ", not a filter list or gradient");
        if (r.model >= 0 && !s->perModel)
            throw InvalidArgument("parameter '" + r.param + "' of '" + m_info->name +
                                  "' applies to the whole merge, not to one model");
        if (r.model >= static_cast<int>(m_modelCount))
            throw InvalidArgument("a rule for '" + r.param + "' names model " + std::to_string(r.model + 1) + " of " +
                                  std::to_string(m_modelCount));
        if (r.values.empty())
            throw InvalidArgument("parameter '" + r.param + "': an empty list of values (filter '" + r.filter + "')");
        for (double v : r.values) normalise(*m_info, r.param, v);  // range and kind
    }
    m_rules = std::move(rules);
}

std::string MethodArgs::choice(const std::string& name) const {
    const ParamSpec& s = spec(name);
    const auto it = m_global.find(name);
    return it != m_global.end() ? std::get<std::string>(it->second) : s.defaultChoice;
}

std::vector<double> MethodArgs::perModelNumbers(const std::string& name) const {
    std::vector<double> out;
    for (std::size_t i = 0; i < m_modelCount; ++i) out.push_back(number(name, static_cast<int>(i)));
    return out;
}

std::string MethodArgs::prepareKey() const {
    std::string key;
    if (!m_info) return key;
    for (const auto& p : m_info->params) {
        if (!p.affectsPrepare) continue;
        key += p.name + "=";
        if (p.kind == ParamKind::Choice) {
            key += choice(p.name);
        } else {
            for (std::size_t i = 0; i < std::max<std::size_t>(1, m_modelCount); ++i)
                key += paramValueText(number(p.name, static_cast<int>(i))) + ",";
        }
        key += ";";
        key += rulesText(p.name);
    }
    return key;
}

void parseAssignment(const std::string& text, ParamValues& global, std::vector<ParamValues>& perModel,
                     std::size_t modelCount) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
        throw InvalidArgument("--set needs key=value, not '" + text + "'");
    const std::string key = text.substr(0, eq), value = text.substr(eq + 1);
    if (value.find(',') == std::string::npos) {
        global[key] = value;
        return;
    }
    std::vector<std::string> parts;
    std::stringstream ss(value);
    for (std::string p; std::getline(ss, p, ',');) parts.push_back(p);
    if (parts.size() != modelCount)
        throw InvalidArgument("--set " + key + " lists " + std::to_string(parts.size()) +
                              " values for " + std::to_string(modelCount) + " models");
    perModel.resize(modelCount);
    for (std::size_t i = 0; i < modelCount; ++i) perModel[i][key] = parts[i];
}

}  // namespace ms::core::merge
