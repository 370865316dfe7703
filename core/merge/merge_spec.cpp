#include "core/merge/merge_spec.h"

#include "core/merge/method_args.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/merge/method_registry.h"
#include "core/merge/recipe.h"

namespace ms::core::merge {

namespace {
using nlohmann::ordered_json;

ordered_json paramsJson(const ParamValues& p) {
    ordered_json j = ordered_json::object();
    for (const auto& [k, v] : p) {
        if (const auto* d = std::get_if<double>(&v)) j[k] = *d;
        else j[k] = std::get<std::string>(v);
    }
    return j;
}

ParamValues paramsFrom(const nlohmann::json& j) {
    ParamValues out;
    for (const auto& [k, v] : j.items()) {
        if (v.is_number()) out[k] = v.get<double>();
        else if (v.is_string()) out[k] = v.get<std::string>();
        else throw InvalidArgument("parameter '" + k + "' is neither a number nor a string");
    }
    return out;
}
}  // namespace

std::vector<std::string> MergeSpec::taskNames() const {
    std::vector<std::string> out;
    for (const auto& m : models)
        out.push_back(!m.task.empty() ? m.task : std::filesystem::path(m.path).stem().string());
    return out;
}

std::vector<ParamValues> MergeSpec::perModelParams() const {
    std::vector<ParamValues> out;
    for (const auto& m : models) out.push_back(m.params);
    return out;
}

int MergeSpec::modelIndex(const std::string& task) const {
    const auto names = taskNames();
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == task) return static_cast<int>(i);
    return -1;
}

void MergeSpec::set(const std::string& param, const ParamValue& value, const std::string& task) {
    if (task.empty()) {
        params[param] = value;
        return;
    }
    const int i = modelIndex(task);
    if (i < 0) {
        std::string known;
        for (const auto& t : taskNames()) known += (known.empty() ? "" : ", ") + t;
        throw InvalidArgument(param + "[" + task + "]: no task '" + task + "' (tasks: " + known + ")");
    }
    models[static_cast<std::size_t>(i)].params[param] = value;
}

std::string toJson(const MergeSpec& s) {
    ordered_json j;
    j["method"] = s.method;
    j["base"] = {{"path", s.base}, {"xxh128", s.baseHash}};
    j["models"] = ordered_json::array();
    for (const auto& m : s.models)
        j["models"].push_back({{"path", m.path}, {"task", m.task}, {"xxh128", m.hash}, {"params", paramsJson(m.params)}});
    j["params"] = paramsJson(s.params);
    j["lambda_blocks"] = s.lambda.blockCurve;
    j["lambda_overrides"] = ordered_json::array();
    for (const auto& [pattern, value] : s.lambda.overrides) j["lambda_overrides"].push_back({{"pattern", pattern}, {"value", value}});
    if (!s.rules.empty()) {
        j["rules"] = ordered_json::array();
        for (const auto& r : s.rules)
            j["rules"].push_back({{"param", r.param}, {"model", r.model}, {"filter", r.filter}, {"values", r.values}});
    }
    j["filter"] = {{"include", s.filter.include}, {"exclude", s.filter.exclude}, {"exclude_heads", s.filter.excludeHeads}};
    j["dtype"] = s.dtype ? ordered_json(dtypeRecipeName(*s.dtype)) : ordered_json(nullptr);
    if (s.computeDtype) j["compute_dtype"] = dtypeRecipeName(*s.computeDtype);
    j["open"] = {{"checkpoint_key", s.open.torch.key}, {"pickle_allow", s.open.torch.inertGlobals}};
    return j.dump();
}

MergeSpec mergeSpecFromJson(const std::string& text, const std::string& source) {
    try {
        const auto j = nlohmann::json::parse(text);
        MergeSpec s;
        s.method = j.at("method").get<std::string>();
        s.base = j.at("base").at("path").get<std::string>();
        s.baseHash = j.at("base").value("xxh128", "");
        for (const auto& m : j.at("models"))
            s.models.push_back({m.at("path").get<std::string>(), m.value("task", ""), paramsFrom(m.value("params", nlohmann::json::object())),
                                m.value("xxh128", "")});
        s.params = paramsFrom(j.value("params", nlohmann::json::object()));
        s.lambda.blockCurve = j.value("lambda_blocks", std::vector<double>{});
        for (const auto& o : j.value("lambda_overrides", nlohmann::json::array()))
            s.lambda.overrides.emplace_back(o.at("pattern").get<std::string>(), o.at("value").get<double>());
        for (const auto& r : j.value("rules", nlohmann::json::array()))
            s.rules.push_back({r.at("param").get<std::string>(), r.value("model", -1), r.value("filter", ""),
                               r.at("values").get<std::vector<double>>()});
        if (j.contains("filter")) {
            const auto& f = j.at("filter");
            s.filter.include = f.value("include", std::vector<std::string>{});
            s.filter.exclude = f.value("exclude", std::vector<std::string>{});
            s.filter.excludeHeads = f.value("exclude_heads", true);
        }
        if (j.contains("dtype") && !j.at("dtype").is_null()) {
            const auto t = parseDtypeRecipeName(j.at("dtype").get<std::string>());
            if (!t) throw InvalidArgument("unknown dtype '" + j.at("dtype").get<std::string>() + "'");
            s.dtype = *t;
        }
        if (j.contains("compute_dtype")) {
            const auto t = parseDtypeRecipeName(j.at("compute_dtype").get<std::string>());
            if (!t) throw InvalidArgument("unknown compute dtype '" + j.at("compute_dtype").get<std::string>() + "'");
            s.computeDtype = *t;
        }
        if (j.contains("open")) {
            s.open.torch.key = j.at("open").value("checkpoint_key", "");
            s.open.torch.inertGlobals = j.at("open").value("pickle_allow", std::vector<std::string>{});
        }
        return s;
    } catch (const nlohmann::json::exception& e) {
        throw InvalidArgument(source + ": " + e.what());
    } catch (const InvalidArgument& e) {
        throw InvalidArgument(source + ": " + e.what());
    }
}

MethodArgs methodArgsFor(const MergeSpec& spec, const MethodInfo& info) {
    MethodArgs args(info, spec.params, spec.perModelParams(), spec.models.size());
    args.setRules(spec.rules);
    return args;
}

MergeSpec canonical(const MergeSpec& spec) {
    const MethodArgs args = methodArgsFor(spec, findMethod(spec.method).info());
    MergeSpec out = spec;
    out.params = args.global();
    for (std::size_t i = 0; i < out.models.size(); ++i) out.models[i].params = args.perModel()[i];
    return out;
}

bool sameSettings(const MergeSpec& a, const MergeSpec& b) { return toJson(canonical(a)) == toJson(canonical(b)); }

void applyAssignments(MergeSpec& spec, const std::vector<std::string>& assignments) {
    std::vector<ParamValues> perModel = spec.perModelParams();
    for (const auto& a : assignments) parseAssignment(a, spec.params, perModel, spec.models.size());
    for (std::size_t i = 0; i < spec.models.size() && i < perModel.size(); ++i)
        for (const auto& [k, v] : perModel[i]) spec.models[i].params[k] = v;
}

}  // namespace ms::core::merge
