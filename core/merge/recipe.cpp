#include "core/merge/recipe.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "core/io/atomic_file.h"
#include "core/merge/method_registry.h"

namespace ms::core::merge {

namespace {

struct DTypeName {
    const char* name;
    io::DType type;
};
constexpr DTypeName kDTypeNames[] = {
    {"float32", io::DType::F32}, {"float16", io::DType::F16}, {"bfloat16", io::DType::BF16},
    {"float64", io::DType::F64}, {"fp32", io::DType::F32},    {"fp16", io::DType::F16},
    {"bf16", io::DType::BF16},
};

[[noreturn]] void bad(const std::string& source, const std::string& what) {
    throw InvalidArgument(source + ": " + what);
}

std::string resolvePath(const std::string& p, const std::string& baseDir) {
    if (p.empty() || std::filesystem::path(p).is_absolute() || baseDir.empty()) return p;
    return (std::filesystem::path(baseDir) / p).lexically_normal().string();
}

std::optional<bool> boolText(const std::string& t) {
    if (t == "true" || t == "True" || t == "TRUE" || t == "yes" || t == "1") return true;
    if (t == "false" || t == "False" || t == "FALSE" || t == "no" || t == "0") return false;
    return std::nullopt;
}

ParamValue scalarValue(const YAML::Node& n, const std::string& source, const std::string& field) {
    if (!n.IsScalar()) bad(source, "'" + field + "' must be a single value, a list of numbers (a gradient) or a list of {filter, value}");
    const std::string text = n.Scalar();
    if (text == "true" || text == "false") return text;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (!text.empty() && *end == '\0') return v;
    return text;
}

std::vector<double> numbersOf(const YAML::Node& n, const std::string& source, const std::string& field) {
    std::vector<double> out;
    if (n.IsScalar()) {
        out.push_back(n.as<double>());
    } else if (n.IsSequence()) {
        for (const auto& x : n) {
            if (!x.IsScalar()) bad(source, "'" + field + "': a gradient lists numbers");
            out.push_back(x.as<double>());
        }
        if (out.empty()) bad(source, "'" + field + "': an empty gradient");
    } else {
        bad(source, "'" + field + "': a value must be a number or a list of numbers");
    }
    return out;
}

// What a recipe's `parameters:` mean (mergekit's config.py): a scalar; a list of numbers (a
// gradient over the layers); or a list of {filter, value} (first substring match wins, the value
// itself a scalar or a gradient). A trailing entry without a filter and with a single value is the
// parameter's plain value (the fallback, as mergekit's next scope).
struct RecipeContext {
    const MethodInfo* info = nullptr;
    bool mergekit = true;  // mergekit's meaning (else a version-1 MergeScope recipe)
    std::string source;
};

void readParameters(const YAML::Node& node, const RecipeContext& ctx, MergeSpec& spec, ParamValues& out, int model) {
    if (!node) return;
    const std::string& source = ctx.source;
    if (!node.IsMap()) bad(source, "'parameters' must be a map");
    const std::string& method = ctx.info->name;
    for (const auto& kv : node) {
        std::string key = kv.first.as<std::string>();
        const YAML::Node& v = kv.second;
        if (key == "int8_mask") continue;  // mergekit's memory option: no numeric effect there either
        if (key == "normalize" || key == "rescale" || key == "filter_wise") {
            if (!v.IsScalar()) bad(source, "'" + key + "' takes true or false");
            const auto on = boolText(v.Scalar());
            if (!on) bad(source, "'" + key + "' takes true or false, not '" + v.Scalar() + "'");
            if (key == "normalize" && ctx.info->has("disjoint")) {
                out["disjoint"] = std::string(*on ? "mean" : "sum");
            } else if (ctx.info->has(key)) {
                out[key] = std::string(*on ? "true" : "false");
            } else if (!ctx.mergekit) {
                bad(source, "'" + key + "' does not apply to " + method);
            }  // else: mergekit ignores a parameter the method does not declare
            continue;
        }
        const ParamSpec* ps = ctx.info->find(key);
        if (v.IsScalar() || !ps || ps->kind == ParamKind::Choice) {
            out[key] = scalarValue(v, source, key);
            continue;
        }
        std::vector<TensorRule> rules;
        if (v.IsSequence() && v.size() > 0 && v[0].IsMap()) {
            for (std::size_t i = 0; i < v.size(); ++i) {
                const YAML::Node& e = v[i];
                if (!e.IsMap() || !e["value"]) bad(source, "'" + key + "': each entry of a filter list needs 'value' (and 'filter')");
                const std::string filter = e["filter"] ? e["filter"].as<std::string>() : "";
                const auto values = numbersOf(e["value"], source, key);
                const bool last = i + 1 == v.size();
                if (last && (filter.empty() || filter == "*") && values.size() == 1 && !rules.empty()) {
                    out[key] = values.front();  // the fallback
                    continue;
                }
                rules.push_back({key, model, filter == "*" ? "" : filter, values});
            }
        } else {
            const auto values = numbersOf(v, source, key);
            if (values.size() == 1) out[key] = values.front();
            else rules.push_back({key, model, "", values});
        }
        for (auto& r : rules) spec.rules.push_back(std::move(r));
    }
}

}  // namespace

std::string dtypeRecipeName(io::DType t) {
    for (const auto& d : kDTypeNames)
        if (d.type == t) return d.name;
    return std::string(io::dtypeName(t));
}

std::optional<io::DType> parseDtypeRecipeName(const std::string& name) {
    for (const auto& d : kDTypeNames)
        if (name == d.name) return d.type;
    return std::nullopt;
}

MergeSpec parseRecipe(const std::string& yaml, const std::string& baseDir, const std::string& source) {
    YAML::Node root;
    try {
        root = YAML::Load(yaml);
    } catch (const YAML::Exception& e) {
        bad(source, std::string("invalid YAML: ") + e.what());
    }
    if (!root.IsMap()) bad(source, "a recipe is a YAML map with merge_method, base_model and models");
    try {
        MergeSpec spec;
        if (!root["merge_method"]) bad(source, "missing 'merge_method'");
        spec.method = root["merge_method"].as<std::string>();
        if (spec.method == "linear") spec.method = "average";
        const MergeMethod& method = findMethod(spec.method);
        const MethodInfo& info = method.info();
        const YAML::Node ours = root["mergescope"];
        // A recipe means what mergekit computes, unless it is a version-1 MergeScope recipe (saved
        // before mergekit parity: every knob it did not write keeps MergeScope's old default).
        RecipeContext ctx{&info, !(ours && ours["version"] && ours["version"].as<int>() == 1), source};
        if (root["slices"])
            bad(source, "'slices' (stacking layer ranges of different models, a way to grow LLMs) are not supported: "
                        "a ViT merge keeps the base's blocks; list the models under 'models'");
        if (root["base_model"]) spec.base = resolvePath(root["base_model"].as<std::string>(), baseDir);
        const YAML::Node models = root["models"];
        if (!models || !models.IsSequence()) bad(source, "'models' must be a list");
        const bool linear = spec.method == "average";
        bool baseListed = false;
        for (const auto& m : models) {
            ModelRef ref;
            if (!m.IsScalar() && !m.IsMap()) bad(source, "each entry of 'models' is a path or a map with 'model'");
            const YAML::Node params = m.IsMap() ? m["parameters"] : YAML::Node();
            if (m.IsScalar()) {
                ref.path = resolvePath(m.as<std::string>(), baseDir);
            } else {
                if (!m["model"]) bad(source, "each entry of 'models' needs 'model'");
                ref.path = resolvePath(m["model"].as<std::string>(), baseDir);
                if (m["task"]) ref.task = m["task"].as<std::string>();
            }
            const bool isBase = !spec.base.empty() && ref.path == spec.base;
            if (isBase && linear && ctx.mergekit) baseListed = true;  // mergekit averages the base in as a model
            else if (isBase && (ctx.mergekit || !params || params.IsNull())) continue;   // the base, not a task vector
            readParameters(params, ctx, spec, ref.params, static_cast<int>(spec.models.size()));
            spec.models.push_back(std::move(ref));
        }
        readParameters(root["parameters"], ctx, spec, spec.params, -1);
        if (linear && ctx.mergekit) {
            if (spec.base.empty()) {
                // mergekit's linear needs no base: the first model stands in for it (its tensor
                // names and the tensors copied as they are; the average never reads it).
                if (spec.models.empty()) bad(source, "'models' is empty");
                spec.base = spec.models.front().path;
            } else if (!baseListed) {
                ModelRef b;
                b.path = spec.base;
                spec.models.push_back(std::move(b));  // weighted by the top-level weight, as mergekit
            }
        }
        const YAML::Node outDtype = root["out_dtype"], dtype = root["dtype"];
        const auto dtypeOf = [&](const YAML::Node& n) {
            std::string name = n.as<std::string>();
            if (name.rfind("torch.", 0) == 0) name = name.substr(6);
            const auto t = parseDtypeRecipeName(name);
            if (!t) bad(source, "unknown dtype '" + name + "' (float32, float16, bfloat16, float64)");
            return *t;
        };
        if (outDtype) spec.dtype = dtypeOf(outDtype);
        if (dtype) {
            if (ctx.mergekit) spec.computeDtype = dtypeOf(dtype);  // mergekit computes in it, and saves in it without out_dtype
            if (!outDtype) spec.dtype = dtypeOf(dtype);
        }
        if (ctx.mergekit) {
            // mergekit's defaults where they differ from MergeScope's flags: nothing trimmed
            // (density 1), mergekit's selection rules, per-tensor top-k, every tensor merged.
            if (info.has("density") && !spec.params.count("density")) spec.params["density"] = 1.0;
            if (info.has("convention") && !spec.params.count("convention")) spec.params["convention"] = std::string("mergekit");
            if (info.has("topk_scope") && !spec.params.count("topk_scope")) spec.params["topk_scope"] = std::string("per_tensor");
            spec.filter.excludeHeads = false;
            // mergekit keeps everything at density ≥ 1; the method's range stops at 1.
            const auto clampDensity = [](ParamValues& p) {
                const auto it = p.find("density");
                if (it != p.end() && std::holds_alternative<double>(it->second) && std::get<double>(it->second) > 1.0) it->second = 1.0;
            };
            clampDensity(spec.params);
            for (auto& m : spec.models) clampDensity(m.params);
            for (auto& r : spec.rules)
                if (r.param == "density")
                    for (double& x : r.values) x = std::min(x, 1.0);
        } else if (info.has("topk_scope") && !spec.params.count("topk_scope") && !ours) {
            spec.params["topk_scope"] = std::string("per_tensor");
        }
        if (ours) {
            if (ours["include"]) spec.filter.include = ours["include"].as<std::vector<std::string>>();
            if (ours["exclude"]) spec.filter.exclude = ours["exclude"].as<std::vector<std::string>>();
            if (ours["exclude_heads"]) spec.filter.excludeHeads = ours["exclude_heads"].as<bool>();
            if (ours["lambda_blocks"]) spec.lambda.blockCurve = ours["lambda_blocks"].as<std::vector<double>>();
            if (ours["lambda_overrides"])
                for (const auto& o : ours["lambda_overrides"])
                    spec.lambda.overrides.emplace_back(o["pattern"].as<std::string>(), o["value"].as<double>());
            if (ours["checkpoint_key"]) spec.open.torch.key = ours["checkpoint_key"].as<std::string>();
            if (ours["compute_dtype"]) spec.computeDtype = dtypeOf(ours["compute_dtype"]);
        }
        // Validate names, kinds, ranges and rules now, with the recipe's name in the message.
        try {
            (void)methodArgsFor(spec, info);
        } catch (const InvalidArgument& e) {
            bad(source, e.what());
        }
        return spec;
    } catch (const YAML::Exception& e) {
        bad(source, std::string("malformed field: ") + e.what());
    }
}

MergeSpec loadRecipe(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw IoError(path, "cannot open recipe");
    std::stringstream ss;
    ss << in.rdbuf();
    return parseRecipe(ss.str(), std::filesystem::path(path).parent_path().string(), path);
}

namespace {
// A parameter's value as a recipe writes it: the plain value, or its rules as mergekit's forms
// (a gradient list; a list of {filter, value} ending with the plain value as the fallback).
void emitParam(YAML::Emitter& out, const std::string& name, const std::vector<TensorRule>& rules, int model,
               const std::optional<std::string>& plain) {
    std::vector<const TensorRule*> mine;
    for (const auto& r : rules)
        if (r.param == name && r.model == model) mine.push_back(&r);
    const auto values = [&](const std::vector<double>& v) {
        if (v.size() == 1) {
            out << paramValueText(v.front());
            return;
        }
        out << YAML::Flow << YAML::BeginSeq;
        for (double x : v) out << paramValueText(x);
        out << YAML::EndSeq;
    };
    out << YAML::Key << name << YAML::Value;
    if (mine.empty()) {
        out << plain.value_or("");
        return;
    }
    if (mine.size() == 1 && mine[0]->filter.empty() && !plain) {
        values(mine[0]->values);
        return;
    }
    out << YAML::BeginSeq;
    for (const auto* r : mine) {
        out << YAML::BeginMap;
        if (!r->filter.empty()) out << YAML::Key << "filter" << YAML::Value << r->filter;
        out << YAML::Key << "value" << YAML::Value;
        values(r->values);
        out << YAML::EndMap;
    }
    if (plain) out << YAML::BeginMap << YAML::Key << "value" << YAML::Value << *plain << YAML::EndMap;
    out << YAML::EndSeq;
}
}  // namespace

std::string saveRecipe(const MergeSpec& spec) {
    const MethodInfo& info = findMethod(spec.method).info();
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "merge_method" << YAML::Value << spec.method;
    out << YAML::Key << "base_model" << YAML::Value << spec.base;
    out << YAML::Key << "models" << YAML::Value << YAML::BeginSeq;
    const auto tasks = spec.taskNames();
    for (std::size_t i = 0; i < spec.models.size(); ++i) {
        const auto& m = spec.models[i];
        out << YAML::BeginMap << YAML::Key << "model" << YAML::Value << m.path;
        out << YAML::Key << "task" << YAML::Value << tasks[i];
        std::vector<std::string> names;
        for (const auto& [k, v] : m.params) names.push_back(k);
        for (const auto& r : spec.rules)
            if (r.model == static_cast<int>(i) && std::find(names.begin(), names.end(), r.param) == names.end()) names.push_back(r.param);
        if (!names.empty()) {
            out << YAML::Key << "parameters" << YAML::Value << YAML::BeginMap;
            for (const auto& k : names) {
                const auto it = m.params.find(k);
                emitParam(out, k, spec.rules, static_cast<int>(i),
                          it == m.params.end() ? std::nullopt : std::optional<std::string>(paramValueText(it->second)));
            }
            out << YAML::EndMap;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    // Every declared parameter, explicitly (defaults included), so the recipe means one thing to
    // MergeScope and mergekit; `normalize` beside `disjoint` for mergekit's consensus methods.
    out << YAML::Key << "parameters" << YAML::Value << YAML::BeginMap;
    for (const auto& p : info.params) {
        if (p.perModel && p.name == "weight" && !spec.params.count("weight")) {
            bool topRules = false;
            for (const auto& r : spec.rules) topRules |= r.param == "weight" && r.model == -1;
            if (!topRules) continue;  // per model above
        }
        const auto it = spec.params.find(p.name);
        std::string value;
        if (it != spec.params.end()) value = paramValueText(it->second);
        else value = p.kind == ParamKind::Choice ? p.defaultChoice : paramValueText(p.defaultNumber);
        emitParam(out, p.name, spec.rules, -1, value);
        if (p.name == "disjoint") out << YAML::Key << "normalize" << YAML::Value << (value == "mean" ? "true" : "false");
    }
    out << YAML::EndMap;
    if (spec.dtype) out << YAML::Key << "out_dtype" << YAML::Value << dtypeRecipeName(*spec.dtype);
    out << YAML::Key << "mergescope" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "version" << YAML::Value << 2;
    if (spec.computeDtype) out << YAML::Key << "compute_dtype" << YAML::Value << dtypeRecipeName(*spec.computeDtype);
    if (!spec.filter.include.empty()) out << YAML::Key << "include" << YAML::Value << spec.filter.include;
    if (!spec.filter.exclude.empty()) out << YAML::Key << "exclude" << YAML::Value << spec.filter.exclude;
    out << YAML::Key << "exclude_heads" << YAML::Value << spec.filter.excludeHeads;
    if (!spec.lambda.blockCurve.empty()) {
        out << YAML::Key << "lambda_blocks" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (double v : spec.lambda.blockCurve) out << paramValueText(v);  // shortest exact text
        out << YAML::EndSeq;
    }
    if (!spec.lambda.overrides.empty()) {
        out << YAML::Key << "lambda_overrides" << YAML::Value << YAML::BeginSeq;
        for (const auto& [pattern, value] : spec.lambda.overrides)
            out << YAML::BeginMap << YAML::Key << "pattern" << YAML::Value << pattern << YAML::Key << "value"
                << YAML::Value << paramValueText(value) << YAML::EndMap;
        out << YAML::EndSeq;
    }
    if (!spec.open.torch.key.empty()) out << YAML::Key << "checkpoint_key" << YAML::Value << spec.open.torch.key;
    out << YAML::EndMap << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

void writeRecipe(const MergeSpec& spec, const std::string& path) {
    const std::string text = saveRecipe(spec);
    io::AtomicFile f(path);
    f.writeAll(text.data(), text.size());
    f.commit();
}

}  // namespace ms::core::merge
