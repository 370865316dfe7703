#include "core/model/vit_layouts.h"

#include <set>

#include "core/errors.h"

namespace ms::core::model {

namespace {

// One rule: canonical name pattern with {N} for the block index, external name pattern, and
// how to convert (plain rename, or one of the q/k/v parts of a fused tensor).
enum class Part { Whole, Q, K, V };
struct Rule {
    std::string canonical;
    std::string external;
    Part part = Part::Whole;
};

std::vector<Rule> rulesFor(VitLayout layout) {
    if (layout == VitLayout::HfClip) {
        const std::string L = "vision_model.encoder.layers.{N}.";
        return {{"cls_token", "vision_model.embeddings.class_embedding"},
                {"pos_embed", "vision_model.embeddings.position_embedding.weight"},
                {"patch_embed.proj.weight", "vision_model.embeddings.patch_embedding.weight"},
                {"norm_pre.weight", "vision_model.pre_layrnorm.weight"},
                {"norm_pre.bias", "vision_model.pre_layrnorm.bias"},
                {"blocks.{N}.norm1.weight", L + "layer_norm1.weight"},
                {"blocks.{N}.norm1.bias", L + "layer_norm1.bias"},
                {"blocks.{N}.attn.qkv.weight", L + "self_attn.q_proj.weight", Part::Q},
                {"blocks.{N}.attn.qkv.weight", L + "self_attn.k_proj.weight", Part::K},
                {"blocks.{N}.attn.qkv.weight", L + "self_attn.v_proj.weight", Part::V},
                {"blocks.{N}.attn.qkv.bias", L + "self_attn.q_proj.bias", Part::Q},
                {"blocks.{N}.attn.qkv.bias", L + "self_attn.k_proj.bias", Part::K},
                {"blocks.{N}.attn.qkv.bias", L + "self_attn.v_proj.bias", Part::V},
                {"blocks.{N}.attn.proj.weight", L + "self_attn.out_proj.weight"},
                {"blocks.{N}.attn.proj.bias", L + "self_attn.out_proj.bias"},
                {"blocks.{N}.norm2.weight", L + "layer_norm2.weight"},
                {"blocks.{N}.norm2.bias", L + "layer_norm2.bias"},
                {"blocks.{N}.mlp.fc1.weight", L + "mlp.fc1.weight"},
                {"blocks.{N}.mlp.fc1.bias", L + "mlp.fc1.bias"},
                {"blocks.{N}.mlp.fc2.weight", L + "mlp.fc2.weight"},
                {"blocks.{N}.mlp.fc2.bias", L + "mlp.fc2.bias"},
                {"norm.weight", "vision_model.post_layernorm.weight"},
                {"norm.bias", "vision_model.post_layernorm.bias"}};
    }
    if (layout == VitLayout::HfDinov2) {
        const std::string L = "encoder.layer.{N}.";
        return {{"cls_token", "embeddings.cls_token"},
                {"pos_embed", "embeddings.position_embeddings"},
                {"patch_embed.proj.weight", "embeddings.patch_embeddings.projection.weight"},
                {"patch_embed.proj.bias", "embeddings.patch_embeddings.projection.bias"},
                {"blocks.{N}.norm1.weight", L + "norm1.weight"},
                {"blocks.{N}.norm1.bias", L + "norm1.bias"},
                {"blocks.{N}.attn.qkv.weight", L + "attention.attention.query.weight", Part::Q},
                {"blocks.{N}.attn.qkv.weight", L + "attention.attention.key.weight", Part::K},
                {"blocks.{N}.attn.qkv.weight", L + "attention.attention.value.weight", Part::V},
                {"blocks.{N}.attn.qkv.bias", L + "attention.attention.query.bias", Part::Q},
                {"blocks.{N}.attn.qkv.bias", L + "attention.attention.key.bias", Part::K},
                {"blocks.{N}.attn.qkv.bias", L + "attention.attention.value.bias", Part::V},
                {"blocks.{N}.attn.proj.weight", L + "attention.output.dense.weight"},
                {"blocks.{N}.attn.proj.bias", L + "attention.output.dense.bias"},
                {"blocks.{N}.ls1.gamma", L + "layer_scale1.lambda1"},
                {"blocks.{N}.norm2.weight", L + "norm2.weight"},
                {"blocks.{N}.norm2.bias", L + "norm2.bias"},
                {"blocks.{N}.mlp.fc1.weight", L + "mlp.fc1.weight"},
                {"blocks.{N}.mlp.fc1.bias", L + "mlp.fc1.bias"},
                {"blocks.{N}.mlp.fc2.weight", L + "mlp.fc2.weight"},
                {"blocks.{N}.mlp.fc2.bias", L + "mlp.fc2.bias"},
                {"blocks.{N}.ls2.gamma", L + "layer_scale2.lambda1"},
                {"norm.weight", "layernorm.weight"},
                {"norm.bias", "layernorm.bias"}};
    }
    return {};
}

std::string expand(const std::string& pattern, int block) {
    const auto pos = pattern.find("{N}");
    if (pos == std::string::npos) return pattern;
    return pattern.substr(0, pos) + std::to_string(block) + pattern.substr(pos + 3);
}

// The canonical tensor's external shape where they differ.
at::Tensor toExternalShape(const std::string& canonical, const at::Tensor& t, VitLayout layout) {
    if (layout == VitLayout::HfClip && canonical == "cls_token") return t.reshape({t.size(-1)});
    if (layout == VitLayout::HfClip && canonical == "pos_embed") return t.reshape({t.size(1), t.size(2)});
    return t;
}

at::Tensor toCanonicalShape(const std::string& canonical, const at::Tensor& t, VitLayout layout) {
    if (layout == VitLayout::HfClip && canonical == "cls_token") return t.reshape({1, 1, t.size(-1)});
    if (layout == VitLayout::HfClip && canonical == "pos_embed") return t.reshape({1, t.size(0), t.size(1)});
    return t;
}

bool wanted(const std::string& canonical, const VitConfig& c) {
    if (canonical.starts_with("norm_pre.")) return c.preNorm;
    if (canonical == "patch_embed.proj.bias") return c.patchBias;
    if (canonical.find(".ls") != std::string::npos) return c.layerScale;
    return true;
}

}  // namespace

std::string layoutName(VitLayout layout) {
    switch (layout) {
        case VitLayout::Timm: return "timm";
        case VitLayout::HfClip: return "hf_clip";
        case VitLayout::HfDinov2: return "hf_dinov2";
    }
    return "?";
}

VitLayout parseLayout(const std::string& name) {
    for (VitLayout l : {VitLayout::Timm, VitLayout::HfClip, VitLayout::HfDinov2})
        if (layoutName(l) == name) return l;
    throw InvalidArgument("unknown weight layout '" + name + "' (timm, hf_clip, hf_dinov2)");
}

VitLayout detectLayout(const std::vector<std::string>& names) {
    for (const auto& n : names) {
        if (n.find("self_attn.q_proj") != std::string::npos && n.find("vision_model.") != std::string::npos)
            return VitLayout::HfClip;
        if (n.find("attention.attention.query") != std::string::npos) return VitLayout::HfDinov2;
    }
    return VitLayout::Timm;
}

ParamMap toCanonical(const ParamMap& external, VitLayout layout, const VitConfig& config, std::vector<std::string>* unused) {
    if (layout == VitLayout::Timm) {
        ParamMap out;
        std::set<std::string> needed;
        for (const auto& p : vitParamShapes(config)) needed.insert(p.name);
        for (const auto& [n, t] : external) {
            if (needed.count(n)) out[n] = t;
            else if (unused) unused->push_back(n);
        }
        return out;
    }
    ParamMap out;
    std::set<std::string> used;
    const auto rules = rulesFor(layout);
    for (int b = -1; b < config.depth; ++b) {
        std::map<std::string, std::vector<at::Tensor>> parts;  // canonical → q, k, v
        for (const auto& r : rules) {
            const bool perBlock = r.canonical.find("{N}") != std::string::npos;
            if ((b < 0) == perBlock) continue;
            const std::string canonical = expand(r.canonical, b), ext = expand(r.external, b);
            if (!wanted(canonical, config)) continue;
            const auto it = external.find(ext);
            if (it == external.end()) continue;  // reported as missing by checkParams
            used.insert(ext);
            if (r.part == Part::Whole) out[canonical] = toCanonicalShape(canonical, it->second, layout);
            else parts[canonical].push_back(it->second);
        }
        for (auto& [canonical, qkv] : parts)
            if (qkv.size() == 3) out[canonical] = at::cat(qkv, 0);
    }
    if (unused)
        for (const auto& [n, t] : external)
            if (!used.count(n)) unused->push_back(n);
    return out;
}

ParamMap fromCanonical(const ParamMap& canonical, VitLayout layout, const VitConfig& config) {
    if (layout == VitLayout::Timm) return canonical;
    ParamMap out;
    const auto rules = rulesFor(layout);
    for (int b = -1; b < config.depth; ++b)
        for (const auto& r : rules) {
            const bool perBlock = r.canonical.find("{N}") != std::string::npos;
            if ((b < 0) == perBlock) continue;
            const std::string name = expand(r.canonical, b);
            const auto it = canonical.find(name);
            if (it == canonical.end()) continue;
            at::Tensor t = it->second;
            if (r.part != Part::Whole) {
                const std::int64_t third = t.size(0) / 3;
                t = t.narrow(0, (r.part == Part::Q ? 0 : r.part == Part::K ? 1 : 2) * third, third);
            }
            out[expand(r.external, b)] = toExternalShape(name, t, layout);
        }
    return out;
}

}  // namespace ms::core::model
