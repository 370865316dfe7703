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
    const char* companion = nullptr;  // must also be under the prefix (a patch name alone is too common)
};
const Marker kMarkers[] = {
    {VitLayout::HfClip, "embeddings.patch_embedding.weight", "vision_model."},
    {VitLayout::HfDinov2, "embeddings.patch_embeddings.projection.weight", ""},
    {VitLayout::Timm, "patch_embed.proj.weight", ""},
    {VitLayout::OpenClip, "conv1.weight", "", "class_embedding"},
    {VitLayout::Torchvision, "conv_proj.weight", "", "class_token"},
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


}  // namespace

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

FoundLayout findLayout(const ParamMap& raw, const std::string& hint, const std::string& file) {
    std::vector<std::string> names;
    for (const auto& [name, t] : raw) names.push_back(name);
    return findLayoutInNames(names, hint, file);
}

FoundLayout findLayoutInNames(const std::vector<std::string>& names, const std::string& hint, const std::string& file) {
    const bool any = hint.empty() || hint == "auto";
    const VitLayout wanted = any ? VitLayout::Timm : parseLayout(hint);
    std::vector<FoundLayout> found;
    const std::set<std::string> all(names.begin(), names.end());
    for (const auto& name : names)
        for (const auto& m : kMarkers) {
            if (!any && m.layout != wanted) continue;
            const std::string patch = m.patch;
            if (name.size() >= patch.size() && name.ends_with(patch)) {
                const std::string prefix = name.substr(0, name.size() - patch.size());
                if (!prefix.empty() && prefix.back() != '.') continue;
                if (m.companion && !all.count(prefix + m.companion)) continue;
                found.push_back({m.layout, prefix});
                break;  // no marker is a suffix of another: one layout per name
            }
        }
    if (found.empty())
        throw FormatError(file, "no encoder of a known layout here (looked for " +
                                    std::string(any ? "timm patch_embed.proj.weight, hf_clip embeddings.patch_embedding.weight, "
                                                      "hf_dinov2 embeddings.patch_embeddings.projection.weight, open_clip conv1.weight "
                                                      "beside class_embedding or torchvision conv_proj.weight beside class_token"
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
        case VitLayout::OpenClip:
            patch = "conv1.weight", pos = "positional_embedding", blocks = "transformer.resblocks.";
            fc1 = "transformer.resblocks.0.mlp.c_fc.weight", ls = "transformer.resblocks.0.ls_1.gamma", norm_pre = "ln_pre.weight";
            patchBias = "conv1.bias";
            break;
        case VitLayout::Torchvision:
            patch = "conv_proj.weight", pos = "encoder.pos_embedding", blocks = "encoder.layers.encoder_layer_";
            fc1 = "encoder.layers.encoder_layer_0.mlp.0.weight", patchBias = "conv_proj.bias";
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
    c.heads = c.width % 64 == 0 ? c.width / 64 : 0;  // 0: unknown, a config or the kit must say
    c.layerScale = !ls.empty() && find(p, ls);
    c.patchBias = find(p, patchBias) != nullptr;
    c.preNorm = !norm_pre.empty() && find(p, norm_pre);
    if (layout == VitLayout::OpenClip)
        if (const at::Tensor* proj = find(p, "proj"); proj && proj->dim() == 2 && proj->size(0) == c.width)
            c.projection = static_cast<int>(proj->size(1));
    // CLIP's layouts: OpenAI's QuickGELU (open_clip's own LAION models use GELU: their
    // open_clip_config.json or the kit's `activation` says so) and LayerNorm epsilon 1e-5.
    const bool clip = layout == VitLayout::HfClip || layout == VitLayout::OpenClip;
    c.activation = clip ? Activation::QuickGelu : Activation::Gelu;
    c.eps = clip ? 1e-5 : 1e-6;
    return c;
}

namespace {
void applyOpenClipConfig(VitConfig& c, const nlohmann::json& model, const std::string& path) {
    try {
        if (model.contains("quick_gelu") && model["quick_gelu"].is_boolean())
            c.activation = model["quick_gelu"].get<bool>() ? Activation::QuickGelu : Activation::Gelu;
        else if (model.contains("vision_cfg"))
            c.activation = Activation::Gelu;  // open_clip's default when the config does not ask for QuickGELU
        if (!model.contains("vision_cfg") || !model["vision_cfg"].is_object()) return;
        const nlohmann::json& v = model["vision_cfg"];
        if (v.contains("timm_model_name") && v["timm_model_name"].is_string())
            return;  // a timm trunk: its own layout and conventions
        if (v.contains("width") && v["width"].is_number_integer()) c.width = v["width"];
        if (v.contains("layers") && v["layers"].is_number_integer()) c.depth = v["layers"];
        if (v.contains("patch_size") && v["patch_size"].is_number_integer()) c.patchSize = v["patch_size"];
        if (v.contains("mlp_ratio") && v["mlp_ratio"].is_number()) c.mlpRatio = v["mlp_ratio"];
        const int headWidth = v.contains("head_width") && v["head_width"].is_number_integer() ? v["head_width"].get<int>() : 64;
        if (headWidth <= 0 || c.width % headWidth != 0)
            throw FormatError(path, "vision_cfg.head_width " + std::to_string(headWidth) + " does not divide the width " + std::to_string(c.width));
        c.heads = c.width / headWidth;
        if (v.value("attentional_pool", false)) throw FormatError(path, "attentional pooling (vision_cfg.attentional_pool) is not supported");
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(path, std::string("bad field: ") + e.what());
    }
}
}  // namespace

void applyPickledArchitecture(VitConfig& c, const io::Metadata& meta, const FoundLayout& found, const std::string& file) {
    std::string block, attention, activation, norm;
    switch (found.layout) {
        case VitLayout::OpenClip: block = "transformer.resblocks.0.", attention = "attn", activation = "mlp.gelu", norm = "ln_1"; break;
        case VitLayout::Torchvision: block = "encoder.layers.encoder_layer_0.", attention = "self_attention", activation = "mlp.1", norm = "ln_1"; break;
        case VitLayout::Timm: block = "blocks.0.", attention = "attn", activation = "mlp.act", norm = "norm1"; break;
        default: return;  // Hugging Face models keep a config object, not read here
    }
    const std::string at = found.prefix + block;
    const auto get = [&](const std::string& key) -> const std::string* {
        const auto it = meta.find(key);
        return it == meta.end() ? nullptr : &it->second;
    };
    try {
        if (const std::string* heads = get("pickle.attr." + at + attention + ".num_heads")) c.heads = std::stoi(*heads);
        if (const std::string* eps = get("pickle.attr." + at + norm + ".eps")) c.eps = std::stod(*eps);
    } catch (const std::exception&) {
        throw FormatError(file, "the pickled module's num_heads / eps are not numbers");
    }
    if (const std::string* act = get("pickle.module." + at + activation)) {
        if (act->ends_with("QuickGELU")) c.activation = Activation::QuickGelu;
        else if (act->ends_with(".GELU")) {
            const std::string* approx = get("pickle.attr." + at + activation + ".approximate");
            if (approx && *approx != "none")
                throw FormatError(file, "the pickled module's GELU uses approximate='" + *approx + "': only the exact GELU and QuickGELU are supported");
            c.activation = Activation::Gelu;
        } else {
            throw FormatError(file, "the pickled module's activation " + *act + " is not supported (GELU, QuickGELU)");
        }
    }
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
    // open_clip's open_clip_config.json: {"model_cfg": {"quick_gelu": ..., "vision_cfg": {...}}}.
    if (j.is_object() && j.contains("model_cfg") && j["model_cfg"].is_object()) {
        applyOpenClipConfig(c, j["model_cfg"], path);
        return;
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
    const fs::path dir = fs::is_directory(p, ec) ? p : p.parent_path();
    for (const char* name : {"config.json", "open_clip_config.json"})
        if (fs::exists(dir / name, ec)) return (dir / name).string();
    return {};
}

Encoder loadEncoder(const std::string& file, const std::string& layoutHint, const std::map<std::string, std::string>& fields,
                    const VitConfig* config, const io::OpenOptions& open) {
    const auto source = io::openCheckpoint(file, open);
    ParamMap raw = loadParams(*source);
    Encoder e;
    e.found = findLayout(raw, layoutHint, file);
    ParamMap stripped = stripPrefix(raw, e.found, &e.others);
    if (config) {
        e.config = *config;
    } else {
        e.config = inferConfig(stripped, e.found.layout, file);
        applyPickledArchitecture(e.config, source->metadata(), e.found, file);
        const VitConfig fromShapes = e.config;
        if (const std::string cj = configJsonFor(file); !cj.empty()) {
            applyHfConfig(e.config, cj);
            // The position embeddings decide the native size (DINOv2 configs say 518 for 37×37).
            e.config.imageSize = fromShapes.imageSize;
        }
        try {
            kit::applyArchitecture(e.config, fields, "");
            if (e.config.heads == 0)
                throw FormatError(file, "width " + std::to_string(e.config.width) + " is not a multiple of 64: state `heads` in the kit's architecture");
            e.config.validate();
        } catch (const InvalidArgument& err) {
            throw FormatError(file, err.what());
        }
    }
    // q/k/v stored apart stay apart: views of the file, not a fused copy (a quarter of ViT-B).
    e.params = toCanonical(stripped, e.found.layout, e.config, &e.unused, QkvForm::Parts);
    // Parts of a block (or an attention pool) the encoder does not run would be silently dropped:
    // refused instead (open_clip's scale_attn / scale_fc / qk_norm options, CoCa's attn_pool).
    {
        std::string extra;
        int count = 0;
        for (const auto& n : e.unused) {
            const bool inBlocks = (e.found.layout == VitLayout::OpenClip && (n.starts_with("transformer.resblocks.") || n.starts_with("attn_pool"))) ||
                                  (e.found.layout == VitLayout::Torchvision && n.starts_with("encoder.layers."));
            if (!inBlocks) continue;
            if (count++ < 4) extra += (extra.empty() ? "" : ", ") + e.found.prefix + n;
        }
        if (count > 0)
            throw FormatError(file, "the encoder has parts this ViT does not run (" + extra + (count > 4 ? ", ..." : "") +
                                        "): not supported (open_clip's scale_attn / scale_fc / qk_norm, attentional pooling)");
    }
    for (const auto& n : e.unused) e.others[n] = stripped.at(n);
    const auto problems = checkParams(e.config, e.params);
    if (!problems.empty()) {
        std::string s;
        for (std::size_t i = 0; i < problems.size() && i < 6; ++i) s += (i ? "; " : "") + problems[i];
        if (problems.size() > 6) s += "; ... (" + std::to_string(problems.size()) + " problems)";
        throw FormatError(file, (config ? "not the base's architecture: " : "the encoder does not fit its architecture: ") + s);
    }
    // CLIP's visual projection [P, D] beside the encoder (Hugging Face visual_projection.weight):
    // zero-shot heads apply the base's. open_clip keeps it in the encoder (canonical `proj`),
    // merged like the rest and applied per model.
    for (const auto& [n, t] : e.others)
        if ((n == "visual_projection.weight" || n.ends_with(".visual_projection.weight")) && t.dim() == 2) e.projection = t;
    // A head of its own: timm head.*, a Hugging Face classifier.*, torchvision's heads.head.*.
    for (const char* root : {"head.", "classifier.", "heads.head."}) {
        const at::Tensor* w = find(stripped, std::string(root) + "weight");
        const at::Tensor* b = find(stripped, std::string(root) + "bias");
        if (w && b && e.head.empty()) e.head = {{"head.weight", *w}, {"head.bias", *b}};
    }
    return e;
}

}  // namespace ms::core::model
