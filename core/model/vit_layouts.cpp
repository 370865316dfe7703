#include "core/model/vit_layouts.h"

#include <set>

#include "core/errors.h"

namespace ms::core::model {

namespace {

// One rule: canonical name pattern with {N} for the block index, external name pattern, and
// how to convert (plain rename, or one of the q/k/v parts of a fused tensor).
enum class Part { Whole, Q, K, V };
char letterOf(Part p) { return p == Part::Q ? 'q' : p == Part::K ? 'k' : 'v'; }  // QkvForm::Parts' names
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
    if (layout == VitLayout::OpenClip) {
        // OpenAI CLIP / open_clip's VisionTransformer (the `visual` tower): the fused in_proj of
        // torch.nn.MultiheadAttention is timm's qkv (rows q, k, v); `proj` [D, P] is the visual
        // projection, not part of the encoder (zero-shot heads read it).
        const std::string L = "transformer.resblocks.{N}.";
        return {{"cls_token", "class_embedding"},
                {"pos_embed", "positional_embedding"},
                {"patch_embed.proj.weight", "conv1.weight"},
                {"norm_pre.weight", "ln_pre.weight"},
                {"norm_pre.bias", "ln_pre.bias"},
                {"blocks.{N}.norm1.weight", L + "ln_1.weight"},
                {"blocks.{N}.norm1.bias", L + "ln_1.bias"},
                {"blocks.{N}.attn.qkv.weight", L + "attn.in_proj_weight"},
                {"blocks.{N}.attn.qkv.bias", L + "attn.in_proj_bias"},
                {"blocks.{N}.attn.proj.weight", L + "attn.out_proj.weight"},
                {"blocks.{N}.attn.proj.bias", L + "attn.out_proj.bias"},
                {"blocks.{N}.ls1.gamma", L + "ls_1.gamma"},
                {"blocks.{N}.norm2.weight", L + "ln_2.weight"},
                {"blocks.{N}.norm2.bias", L + "ln_2.bias"},
                {"blocks.{N}.mlp.fc1.weight", L + "mlp.c_fc.weight"},
                {"blocks.{N}.mlp.fc1.bias", L + "mlp.c_fc.bias"},
                {"blocks.{N}.mlp.fc2.weight", L + "mlp.c_proj.weight"},
                {"blocks.{N}.mlp.fc2.bias", L + "mlp.c_proj.bias"},
                {"blocks.{N}.ls2.gamma", L + "ls_2.gamma"},
                {"norm.weight", "ln_post.weight"},
                {"norm.bias", "ln_post.bias"},
                {"proj", "proj"}};
    }
    if (layout == VitLayout::Torchvision) {
        // torchvision.models.VisionTransformer: MLPBlock is a Sequential (Linear, GELU, Dropout,
        // Linear, Dropout), so its linears are mlp.0 and mlp.3; heads.head is the classifier.
        const std::string L = "encoder.layers.encoder_layer_{N}.";
        return {{"cls_token", "class_token"},
                {"pos_embed", "encoder.pos_embedding"},
                {"patch_embed.proj.weight", "conv_proj.weight"},
                {"patch_embed.proj.bias", "conv_proj.bias"},
                {"blocks.{N}.norm1.weight", L + "ln_1.weight"},
                {"blocks.{N}.norm1.bias", L + "ln_1.bias"},
                {"blocks.{N}.attn.qkv.weight", L + "self_attention.in_proj_weight"},
                {"blocks.{N}.attn.qkv.bias", L + "self_attention.in_proj_bias"},
                {"blocks.{N}.attn.proj.weight", L + "self_attention.out_proj.weight"},
                {"blocks.{N}.attn.proj.bias", L + "self_attention.out_proj.bias"},
                {"blocks.{N}.norm2.weight", L + "ln_2.weight"},
                {"blocks.{N}.norm2.bias", L + "ln_2.bias"},
                {"blocks.{N}.mlp.fc1.weight", L + "mlp.0.weight"},
                {"blocks.{N}.mlp.fc1.bias", L + "mlp.0.bias"},
                {"blocks.{N}.mlp.fc2.weight", L + "mlp.3.weight"},
                {"blocks.{N}.mlp.fc2.bias", L + "mlp.3.bias"},
                {"norm.weight", "encoder.ln.weight"},
                {"norm.bias", "encoder.ln.bias"}};
    }
    return {};
}

std::string expand(const std::string& pattern, int block) {
    const auto pos = pattern.find("{N}");
    if (pos == std::string::npos) return pattern;
    return pattern.substr(0, pos) + std::to_string(block) + pattern.substr(pos + 3);
}

// The canonical tensor's external shape where they differ.
// CLIP's layouts keep the class embedding [D] and the position embeddings [T, D] unbatched.
bool clipShapes(VitLayout layout) { return layout == VitLayout::HfClip || layout == VitLayout::OpenClip; }

at::Tensor toExternalShape(const std::string& canonical, const at::Tensor& t, VitLayout layout) {
    if (clipShapes(layout) && canonical == "cls_token") return t.reshape({t.size(-1)});
    if (clipShapes(layout) && canonical == "pos_embed") return t.reshape({t.size(1), t.size(2)});
    if (layout == VitLayout::OpenClip && canonical == "proj") return t.t();  // open_clip keeps x @ proj: [D, P]
    return t;
}

at::Tensor toCanonicalShape(const std::string& canonical, const at::Tensor& t, VitLayout layout) {
    // Only tensors of the external rank are reshaped: a misshaped one stays as it is for
    // checkParams to name.
    if (clipShapes(layout) && canonical == "cls_token" && t.dim() == 1) return t.reshape({1, 1, t.size(0)});
    if (clipShapes(layout) && canonical == "pos_embed" && t.dim() == 2) return t.reshape({1, t.size(0), t.size(1)});
    if (layout == VitLayout::OpenClip && canonical == "proj" && t.dim() == 2) return t.t();
    return t;
}

bool wanted(const std::string& canonical, const VitConfig& c) {
    if (canonical.starts_with("norm_pre.")) return c.preNorm;
    if (canonical == "patch_embed.proj.bias") return c.patchBias;
    if (canonical.find(".ls") != std::string::npos) return c.layerScale;
    if (canonical == "proj") return c.projection > 0;
    return true;
}

}  // namespace

std::string layoutName(VitLayout layout) {
    switch (layout) {
        case VitLayout::Timm: return "timm";
        case VitLayout::HfClip: return "hf_clip";
        case VitLayout::HfDinov2: return "hf_dinov2";
        case VitLayout::OpenClip: return "open_clip";
        case VitLayout::Torchvision: return "torchvision";
    }
    return "?";
}

const std::vector<VitLayout>& allLayouts() {
    static const std::vector<VitLayout> all = {VitLayout::Timm, VitLayout::HfClip, VitLayout::HfDinov2, VitLayout::OpenClip,
                                               VitLayout::Torchvision};
    return all;
}

VitLayout parseLayout(const std::string& name) {
    std::string known;
    for (VitLayout l : allLayouts()) {
        if (layoutName(l) == name) return l;
        known += (known.empty() ? "" : ", ") + layoutName(l);
    }
    throw InvalidArgument("unknown weight layout '" + name + "' (" + known + ")");
}

VitLayout detectLayout(const std::vector<std::string>& names) {
    for (const auto& n : names) {
        if (n.find("self_attn.q_proj") != std::string::npos && n.find("vision_model.") != std::string::npos)
            return VitLayout::HfClip;
        if (n.find("attention.attention.query") != std::string::npos) return VitLayout::HfDinov2;
        if (n.find("resblocks.") != std::string::npos && n.find("attn.in_proj_weight") != std::string::npos) return VitLayout::OpenClip;
        if (n.find("encoder_layer_") != std::string::npos && n.find("self_attention.in_proj_weight") != std::string::npos)
            return VitLayout::Torchvision;
    }
    return VitLayout::Timm;
}

ParamMap toCanonical(const ParamMap& external, VitLayout layout, const VitConfig& config, std::vector<std::string>* unused, QkvForm form) {
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
            else if (form == QkvForm::Parts) out[qkvPartName(canonical, letterOf(r.part))] = it->second;
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
            auto it = canonical.find(name);
            if (it == canonical.end() && r.part != Part::Whole) {  // held as its three parts
                if ((it = canonical.find(qkvPartName(name, letterOf(r.part)))) != canonical.end())
                    out[expand(r.external, b)] = it->second;
                continue;
            }
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
