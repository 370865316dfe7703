#include "core/model/encoder_weights.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "core/io/source_factory.h"
#include "core/kit/kit_file.h"
#include "core/model/param_io.h"

namespace ms::core::model {

namespace fs = std::filesystem;

namespace {

struct Marker {
    VitLayout layout;
    const char* patch;
    const char* root;  // what the layout's rules put before the names after the marker's prefix
};
const Marker kMarkers[] = {
    {VitLayout::HfClip, "embeddings.patch_embedding.weight", "vision_model."},
    {VitLayout::HfDinov2, "embeddings.patch_embeddings.projection.weight", ""},
    {VitLayout::Timm, "patch_embed.proj.weight", ""},
};

std::string someNames(const std::vector<std::string>& names) {
    std::string s;
    int n = 0;
    for (const auto& name : names) {
        if (n++ == 8) {
            s += ", ... (" + std::to_string(names.size()) + " tensors)";
            break;
        }
        s += (s.empty() ? "" : ", ") + name;
    }
    return s.empty() ? "no floating tensors" : s;
}

const at::Tensor* find(const ParamMap& p, const std::string& name) {
    const auto it = p.find(name);
    return it == p.end() ? nullptr : &it->second;
}

int countBlocks(const ParamMap& p, const std::string& before) {
    std::set<int> seen;
    for (const auto& [name, t] : p) {
        if (!name.starts_with(before)) continue;
        const std::string rest = name.substr(before.size());
        const auto dot = rest.find('.');
        if (dot == std::string::npos || dot == 0 || rest.substr(0, dot).find_first_not_of("0123456789") != std::string::npos) continue;
        seen.insert(std::stoi(rest.substr(0, dot)));
    }
    return seen.empty() ? 0 : *seen.rbegin() + 1;
}

}  // namespace

FoundLayout findLayout(const ParamMap& raw, const std::string& hint, const std::string& file) {
    std::vector<std::string> names;
    for (const auto& [name, t] : raw) names.push_back(name);
    return findLayoutInNames(names, hint, file);
}

FoundLayout findLayoutInNames(const std::vector<std::string>& names, const std::string& hint, const std::string& file) {
    const bool any = hint.empty() || hint == "auto";
    const VitLayout wanted = any ? VitLayout::Timm : parseLayout(hint);
    std::vector<FoundLayout> found;
    for (const auto& name : names)
        for (const auto& m : kMarkers) {
            if (!any && m.layout != wanted) continue;
            const std::string patch = m.patch;
            if (name.size() >= patch.size() && name.ends_with(patch)) {
                const std::string prefix = name.substr(0, name.size() - patch.size());
                if (!prefix.empty() && prefix.back() != '.') continue;
                found.push_back({m.layout, prefix});
                break;  // timm's marker is never a suffix of the others: one layout per name
            }
        }
    if (found.empty())
        throw FormatError(file, "no encoder of a known layout here (looked for " +
                                    std::string(any ? "timm patch_embed.proj.weight, hf_clip embeddings.patch_embedding.weight or "
                                                      "hf_dinov2 embeddings.patch_embeddings.projection.weight"
                                                    : "the patch embedding of layout " + hint) +
                                    " under any prefix); the file has: " + someNames(names));
    // The shortest prefix: the outermost model (a wrapped copy of a second encoder is unusual).
    std::sort(found.begin(), found.end(), [](const FoundLayout& a, const FoundLayout& b) { return a.prefix.size() < b.prefix.size(); });
    return found.front();
}

ParamMap stripPrefix(const ParamMap& raw, const FoundLayout& f, ParamMap* others) {
    std::string root;
    for (const auto& m : kMarkers)
        if (m.layout == f.layout) root = m.root;
    // HF CLIP: the prefix found ends before `embeddings.`; the rules expect `vision_model.` there.
    ParamMap out;
    const std::string& prefix = f.prefix;
    for (const auto& [name, t] : raw) {
        if (name.starts_with(prefix)) out[root + name.substr(prefix.size())] = t;
        else if (others) (*others)[name] = t;
    }
    return out;
}

ParamMap toFileNames(const ParamMap& canonical, const FoundLayout& f, const VitConfig& config) {
    std::string root;
    for (const auto& m : kMarkers)
        if (m.layout == f.layout) root = m.root;
    ParamMap out;
    for (const auto& [name, t] : fromCanonical(canonical, f.layout, config))
        out[f.prefix + (name.starts_with(root) ? name.substr(root.size()) : name)] = t;
    return out;
}

VitConfig inferConfig(const ParamMap& p, VitLayout layout, const std::string& file) {
    VitConfig c;
    std::string patch, pos, blocks, fc1, ls, norm_pre, patchBias;
    switch (layout) {
        case VitLayout::Timm:
            patch = "patch_embed.proj.weight", pos = "pos_embed", blocks = "blocks.", fc1 = "blocks.0.mlp.fc1.weight";
            ls = "blocks.0.ls1.gamma", norm_pre = "norm_pre.weight", patchBias = "patch_embed.proj.bias";
            break;
        case VitLayout::HfClip:
            patch = "vision_model.embeddings.patch_embedding.weight", pos = "vision_model.embeddings.position_embedding.weight";
            blocks = "vision_model.encoder.layers.", fc1 = "vision_model.encoder.layers.0.mlp.fc1.weight";
            norm_pre = "vision_model.pre_layrnorm.weight", patchBias = "vision_model.embeddings.patch_embedding.bias";
            break;
        case VitLayout::HfDinov2:
            patch = "embeddings.patch_embeddings.projection.weight", pos = "embeddings.position_embeddings";
            blocks = "encoder.layer.", fc1 = "encoder.layer.0.mlp.fc1.weight", ls = "encoder.layer.0.layer_scale1.lambda1";
            patchBias = "embeddings.patch_embeddings.projection.bias";
            break;
    }
    const at::Tensor* w = find(p, patch);
    if (!w || w->dim() != 4 || w->size(2) != w->size(3))
        throw FormatError(file, patch, "the patch embedding must be [width, channels, patch, patch]");
    c.width = static_cast<int>(w->size(0));
    c.channels = static_cast<int>(w->size(1));
    c.patchSize = static_cast<int>(w->size(2));
    const at::Tensor* pe = find(p, pos);
    if (!pe) throw FormatError(file, pos, "the position embeddings are missing");
    const std::int64_t tokens = pe->dim() == 3 ? pe->size(1) : pe->size(0);
    const auto grid = static_cast<std::int64_t>(std::lround(std::sqrt(static_cast<double>(tokens - 1))));
    if (grid * grid + 1 != tokens)
        throw FormatError(file, pos, std::to_string(tokens) + " position embeddings are not a class token and a square grid");
    c.imageSize = static_cast<int>(grid) * c.patchSize;
    c.depth = countBlocks(p, blocks);
    if (c.depth == 0) throw FormatError(file, "no transformer blocks (" + blocks + "N.*) under the encoder's prefix");
    const at::Tensor* f1 = find(p, fc1);
    if (!f1) {
        if (layout == VitLayout::HfDinov2 && find(p, "encoder.layer.0.mlp.weights_in.weight"))
            throw FormatError(file, "encoder.layer.0.mlp.weights_in.weight", "SwiGLU MLPs (DINOv2 giant) are not supported");
        throw FormatError(file, fc1, "the first block's MLP is missing");
    }
    c.mlpRatio = static_cast<double>(f1->size(0)) / c.width;
    if (c.width % 64 != 0)
        throw FormatError(file, "width " + std::to_string(c.width) + " is not a multiple of 64: state `heads` in the kit's architecture");
    c.heads = c.width / 64;
    c.layerScale = !ls.empty() && find(p, ls);
    c.patchBias = find(p, patchBias) != nullptr;
    c.preNorm = !norm_pre.empty() && find(p, norm_pre);
    c.activation = layout == VitLayout::HfClip ? Activation::QuickGelu : Activation::Gelu;
    c.eps = layout == VitLayout::HfClip ? 1e-5 : 1e-6;
    return c;
}

void applyHfConfig(VitConfig& c, const std::string& path) {
    nlohmann::json j;
    try {
        std::ifstream in(path);
        if (!in) throw IoError(path, "cannot open");
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(path, std::string("not valid JSON: ") + e.what());
    }
    if (j.contains("vision_config") && j["vision_config"].is_object()) j = j["vision_config"];
    if (!j.is_object()) throw FormatError(path, "a config.json is a JSON object");
    try {
        auto num = [&](const char* key, auto& field) {
            if (j.contains(key) && j[key].is_number()) field = j[key].get<std::remove_reference_t<decltype(field)>>();
        };
        num("hidden_size", c.width);
        num("num_hidden_layers", c.depth);
        num("num_attention_heads", c.heads);
        num("patch_size", c.patchSize);
        num("num_channels", c.channels);
        num("layer_norm_eps", c.eps);
        num("mlp_ratio", c.mlpRatio);
        if (j.contains("intermediate_size") && j["intermediate_size"].is_number() && c.width > 0)
            c.mlpRatio = j["intermediate_size"].get<double>() / c.width;
        if (j.contains("hidden_act") && j["hidden_act"].is_string()) {
            const std::string act = j["hidden_act"];
            if (act == "quick_gelu") c.activation = Activation::QuickGelu;
            else if (act == "gelu") c.activation = Activation::Gelu;
            else throw FormatError(path, "hidden_act '" + act + "' is not supported (gelu, quick_gelu)");
        }
        if (j.value("use_swiglu_ffn", false)) throw FormatError(path, "SwiGLU MLPs (use_swiglu_ffn) are not supported");
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(path, std::string("bad field: ") + e.what());
    }
}

std::string configJsonFor(const std::string& checkpoint) {
    std::error_code ec;
    const fs::path p(checkpoint);
    const fs::path c = fs::is_directory(p, ec) ? p / "config.json" : p.parent_path() / "config.json";
    return fs::exists(c, ec) ? c.string() : std::string();
}

Encoder loadEncoder(const std::string& file, const std::string& layoutHint, const std::map<std::string, std::string>& fields,
                    const VitConfig* config) {
    ParamMap raw = loadParams(*io::openCheckpoint(file));
    Encoder e;
    e.found = findLayout(raw, layoutHint, file);
    ParamMap stripped = stripPrefix(raw, e.found, &e.others);
    if (config) {
        e.config = *config;
    } else {
        e.config = inferConfig(stripped, e.found.layout, file);
        const VitConfig fromShapes = e.config;
        if (const std::string cj = configJsonFor(file); !cj.empty()) {
            applyHfConfig(e.config, cj);
            // The position embeddings decide the native size (DINOv2 configs say 518 for 37×37).
            e.config.imageSize = fromShapes.imageSize;
        }
        try {
            kit::applyArchitecture(e.config, fields, "");
            e.config.validate();
        } catch (const InvalidArgument& err) {
            throw FormatError(file, err.what());
        }
    }
    e.params = toCanonical(stripped, e.found.layout, e.config, &e.unused);
    for (const auto& n : e.unused) e.others[n] = stripped.at(n);
    const auto problems = checkParams(e.config, e.params);
    if (!problems.empty()) {
        std::string s;
        for (std::size_t i = 0; i < problems.size() && i < 6; ++i) s += (i ? "; " : "") + problems[i];
        if (problems.size() > 6) s += "; ... (" + std::to_string(problems.size()) + " problems)";
        throw FormatError(file, (config ? "not the base's architecture: " : "the encoder does not fit its architecture: ") + s);
    }
    // A head of its own: timm head.*, or a Hugging Face classifier.*.
    for (const char* root : {"head.", "classifier."}) {
        const at::Tensor* w = find(stripped, std::string(root) + "weight");
        const at::Tensor* b = find(stripped, std::string(root) + "bias");
        if (w && b && e.head.empty()) e.head = {{"head.weight", *w}, {"head.bias", *b}};
    }
    return e;
}

}  // namespace ms::core::model
