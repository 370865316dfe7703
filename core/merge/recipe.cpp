#include "core/merge/recipe.h"

#include <yaml-cpp/yaml.h>

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

ParamValue scalarValue(const YAML::Node& n, const std::string& source, const std::string& field) {
    if (!n.IsScalar()) bad(source, "'" + field + "' must be a single value (lists are supported only for lambda)");
    const std::string text = n.Scalar();
    if (text == "true" || text == "false") return text;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (!text.empty() && *end == '\0') return v;
    return text;
}

std::string resolvePath(const std::string& p, const std::string& baseDir) {
    if (p.empty() || std::filesystem::path(p).is_absolute() || baseDir.empty()) return p;
    return (std::filesystem::path(baseDir) / p).lexically_normal().string();
}

// Reads a `parameters:` map into `out`, translating mergekit's spellings.
void readParameters(const YAML::Node& node, const std::string& method, MergeSpec& spec, ParamValues& out,
                    bool global, const std::string& source) {
    if (!node) return;
    if (!node.IsMap()) bad(source, "'parameters' must be a map");
    for (const auto& kv : node) {
        const std::string key = kv.first.as<std::string>();
        const YAML::Node& v = kv.second;
        if (key == "lambda" && v.IsSequence()) {
            if (!global) bad(source, "a lambda curve belongs to the top-level parameters");
            for (const auto& x : v) spec.lambda.blockCurve.push_back(x.as<double>());
            if (spec.lambda.blockCurve.empty()) bad(source, "the lambda curve is empty");
            continue;
        }
        if (key == "normalize") {
            const bool on = v.as<std::string>() == "true";
            if (method == "ties" || method == "dare_ties") out["disjoint"] = std::string(on ? "mean" : "sum");
            else if (method == "average" && on) continue;
            else bad(source, "'normalize: " + v.as<std::string>() + "' is not supported for " + method);
            continue;
        }
        if (key == "int8_mask") continue;  // a mergekit memory option: no effect here
        if (key == "rescale") {
            if (v.as<std::string>() != "true" || method.rfind("dare", 0) != 0)
                bad(source, "'rescale' other than true with a DARE method is not supported");
            continue;
        }
        out[key] = scalarValue(v, source, key);
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
        const YAML::Node ours = root["mergescope"];
        if (root["slices"]) bad(source, "'slices' (layer-range merges) are not supported");
        if (root["base_model"]) spec.base = resolvePath(root["base_model"].as<std::string>(), baseDir);
        const YAML::Node models = root["models"];
        if (!models || !models.IsSequence()) bad(source, "'models' must be a list");
        for (const auto& m : models) {
            ModelRef ref;
            if (m.IsScalar()) {
                ref.path = resolvePath(m.as<std::string>(), baseDir);
            } else {
                if (!m["model"]) bad(source, "each entry of 'models' needs 'model'");
                ref.path = resolvePath(m["model"].as<std::string>(), baseDir);
                if (m["task"]) ref.task = m["task"].as<std::string>();
                readParameters(m["parameters"], spec.method, spec, ref.params, false, source);
            }
            // mergekit lists the base among the models for some methods: it is the base here.
            if (ref.path == spec.base && ref.params.empty()) continue;
            spec.models.push_back(std::move(ref));
        }
        readParameters(root["parameters"], spec.method, spec, spec.params, true, source);
        const YAML::Node dtype = root["out_dtype"] ? root["out_dtype"] : root["dtype"];
        if (dtype) {
            const std::string name = dtype.as<std::string>();
            spec.dtype = parseDtypeRecipeName(name);
            if (!spec.dtype) bad(source, "unknown dtype '" + name + "' (float32, float16, bfloat16, float64)");
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
        } else if (method.info().has("topk_scope") && !spec.params.count("topk_scope")) {
            spec.params["topk_scope"] = std::string("per_tensor");  // what mergekit does
        }
        // Validate names, kinds and ranges now, with the recipe's name in the message.
        try {
            MethodArgs(method.info(), spec.params, spec.perModelParams(), spec.models.size());
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
        if (!m.params.empty()) {
            out << YAML::Key << "parameters" << YAML::Value << YAML::BeginMap;
            for (const auto& [k, v] : m.params) out << YAML::Key << k << YAML::Value << paramValueText(v);
            out << YAML::EndMap;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    // Every declared parameter, explicitly (defaults included), so the recipe means one thing.
    out << YAML::Key << "parameters" << YAML::Value << YAML::BeginMap;
    for (const auto& p : info.params) {
        if (p.perModel && p.name == "weight") continue;  // per model above
        const auto it = spec.params.find(p.name);
        std::string value;
        if (it != spec.params.end()) value = paramValueText(it->second);
        else value = p.kind == ParamKind::Choice ? p.defaultChoice : paramValueText(p.defaultNumber);
        out << YAML::Key << p.name << YAML::Value << value;
    }
    out << YAML::EndMap;
    if (spec.dtype) out << YAML::Key << "dtype" << YAML::Value << dtypeRecipeName(*spec.dtype);
    out << YAML::Key << "mergescope" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "version" << YAML::Value << 1;
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
