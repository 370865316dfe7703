#include "core/model/clip_text.h"

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/model/encoder_weights.h"
#include "core/model/vit_layouts.h"
#include "core/text/clip_tokenizer.h"

namespace ms::core::model {

namespace {

const at::Tensor* find(const ParamMap& p, const std::string& name) {
    const auto it = p.find(name);
    return it == p.end() ? nullptr : &it->second;
}


// Heads and activation of the text tower from a config.json (CLIPConfig's text_config) or an
// open_clip_config.json (model_cfg.text_cfg, model_cfg.quick_gelu).
void applyTextConfig(VitConfig& c, const std::string& path) {
    if (path.empty()) return;
    nlohmann::json j;
    try {
        std::ifstream in(path);
        j = nlohmann::json::parse(in);
        if (j.contains("model_cfg") && j["model_cfg"].is_object()) {
            const auto& m = j["model_cfg"];
            if (m.contains("quick_gelu") && m["quick_gelu"].is_boolean())
                c.activation = m["quick_gelu"].get<bool>() ? Activation::QuickGelu : Activation::Gelu;
            else
                c.activation = Activation::Gelu;
            if (m.contains("text_cfg") && m["text_cfg"].contains("heads") && m["text_cfg"]["heads"].is_number_integer())
                c.heads = m["text_cfg"]["heads"];
        } else if (j.contains("text_config") && j["text_config"].is_object()) {
            const auto& t = j["text_config"];
            if (t.contains("num_attention_heads") && t["num_attention_heads"].is_number_integer()) c.heads = t["num_attention_heads"];
            if (t.contains("layer_norm_eps") && t["layer_norm_eps"].is_number()) c.eps = t["layer_norm_eps"];
            if (t.contains("hidden_act") && t["hidden_act"].is_string())
                c.activation = t["hidden_act"] == "gelu" ? Activation::Gelu : Activation::QuickGelu;
        }
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(path, std::string("not a readable config: ") + e.what());
    }
}

}  // namespace

int ClipTextTower::contextLength() const { return static_cast<int>(params.at("pos_embed").size(1)); }
int ClipTextTower::embedDim() const { return static_cast<int>(params.at("proj").size(0)); }

ClipTextTower findTextTower(const ParamMap& raw, const std::string& file, const std::string& configJson) {
    ClipTextTower tower;
    const std::string hfMarker = "text_model.embeddings.token_embedding.weight";
    for (const auto& [name, t] : raw) {
        if (name.ends_with(hfMarker) && (name.size() == hfMarker.size() || name[name.size() - hfMarker.size() - 1] == '.')) {
            tower.layout = "hf_clip";
            tower.prefix = name.substr(0, name.size() - hfMarker.size());
            break;
        }
        if (name.ends_with("token_embedding.weight") && !name.ends_with("embeddings.token_embedding.weight")) {
            const std::string prefix = name.substr(0, name.size() - std::string("token_embedding.weight").size());
            if ((prefix.empty() || prefix.back() == '.') && raw.count(prefix + "ln_final.weight")) {
                tower.layout = "open_clip";
                tower.prefix = prefix;
                break;
            }
        }
    }
    if (tower.layout.empty())
        throw FormatError(file, "no CLIP text tower here (Hugging Face text_model.* with text_projection, or open_clip token_embedding, "
                                "transformer.resblocks, ln_final, text_projection): zero-shot heads from class names need one; "
                                "give a full CLIP checkpoint as the kit's `text_tower`");
    const bool hf = tower.layout == "hf_clip";
    // The tower's names as the vision layouts' rules read them (its blocks are ViT blocks).
    ParamMap renamed;
    const std::string root = tower.prefix + (hf ? "text_model." : "");
    for (const auto& [name, t] : raw) {
        if (!name.starts_with(root)) continue;
        const std::string rest = name.substr(root.size());
        if (!hf && rest.starts_with("visual.")) continue;
        renamed[(hf ? "vision_model." : "") + rest] = t;
    }
    const std::string tokens = hf ? "vision_model.embeddings.token_embedding.weight" : "token_embedding.weight";
    const std::string blocks = hf ? "vision_model.encoder.layers." : "transformer.resblocks.";
    const std::string fc1 = blocks + "0." + (hf ? "mlp.fc1.weight" : "mlp.c_fc.weight");
    const std::string finalNorm = hf ? "vision_model.final_layer_norm." : "ln_final.";
    const std::string projName = tower.prefix + (hf ? "text_projection.weight" : "text_projection");
    const at::Tensor* emb = find(renamed, tokens);
    const at::Tensor* f1 = find(renamed, fc1);
    const at::Tensor* proj = find(raw, projName);
    VitConfig& c = tower.config;
    if (!emb || emb->dim() != 2) throw FormatError(file, root + (hf ? "embeddings.token_embedding.weight" : "token_embedding.weight"), "the token embedding must be [vocabulary, width]");
    c.width = static_cast<int>(emb->size(1));
    c.depth = countBlocks(renamed, blocks);
    if (c.depth == 0 || !f1)
        throw FormatError(file, "the text tower has no transformer blocks (" + root + (hf ? "encoder.layers" : "transformer.resblocks") +
                                    ".N): the task-vectors release deletes them from its encoders; give a full CLIP checkpoint as the kit's `text_tower`");
    c.mlpRatio = static_cast<double>(f1->size(0)) / c.width;
    c.heads = c.width % 64 == 0 ? c.width / 64 : 0;
    c.activation = Activation::QuickGelu;
    c.eps = 1e-5;
    c.patchBias = false;
    c.preNorm = false;
    applyTextConfig(c, configJson);
    if (c.heads <= 0 || c.width % c.heads != 0)
        throw FormatError(file, "text width " + std::to_string(c.width) + ": the number of heads is not implied (a config.json beside the file tells)");
    if (!proj || proj->dim() != 2) throw FormatError(file, projName, "the text projection is missing or not a matrix");
    tower.params = toCanonical(renamed, hf ? VitLayout::HfClip : VitLayout::OpenClip, c);
    tower.params.erase("cls_token");
    tower.params.erase("patch_embed.proj.weight");
    tower.params["token_embedding"] = *emb;
    for (const char* part : {"weight", "bias"}) {
        const at::Tensor* n = find(renamed, finalNorm + part);
        if (!n) throw FormatError(file, root + (hf ? "final_layer_norm." : "ln_final.") + part, "the final LayerNorm is missing");
        tower.params[std::string("norm.") + part] = *n;
    }
    tower.params["proj"] = hf ? *proj : proj->t();  // [P, W]
    if (tower.params.at("proj").size(1) != c.width)
        throw FormatError(file, projName, "shape " + std::string(at::str(proj->sizes())) + " does not fit the text width " + std::to_string(c.width));
    if (!tower.params.count("pos_embed")) throw FormatError(file, "the text tower's position embeddings are missing");
    for (int b = 0; b < c.depth; ++b)
        for (const char* n : {"norm1.weight", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "norm2.weight", "mlp.fc1.weight", "mlp.fc2.weight"})
            if (!tower.params.count("blocks." + std::to_string(b) + "." + n))
                throw FormatError(file, "text block " + std::to_string(b) + ": " + n + " is missing");
    return tower;
}

at::Tensor encodeText(const ClipTextTower& tower, const at::Tensor& ids) {
    const ParamMap& p = tower.params;
    if (ids.dim() != 2 || ids.size(1) > tower.contextLength())
        throw InvalidArgument("text ids must be [N, ≤ " + std::to_string(tower.contextLength()) + "], got " + std::string(at::str(ids.sizes())));
    const std::int64_t vocabulary = p.at("token_embedding").size(0);
    if (ids.numel() > 0 && (ids.min().item<std::int64_t>() < 0 || ids.max().item<std::int64_t>() >= vocabulary))
        throw InvalidArgument("a token id lies outside the text tower's vocabulary of " + std::to_string(vocabulary));
    // Causal attention: nothing after the end-of-text token reaches it, so the sequence is cut
    // after the last one in the batch (the same embeddings, a fraction of the work).
    const at::Tensor eot = ids.argmax(1);
    const std::int64_t N = ids.size(0), L = ids.numel() ? eot.max().item<std::int64_t>() + 1 : 1;
    const at::Tensor cut = ids.narrow(1, 0, L);
    at::Tensor x = p.at("token_embedding").index_select(0, cut.reshape({-1})).reshape({N, L, -1}) + p.at("pos_embed").narrow(1, 0, L);
    const at::Tensor mask = at::full({L, L}, -std::numeric_limits<float>::infinity(), at::kFloat).triu(1);
    for (int b = 0; b < tower.config.depth; ++b) x = vitBlock(tower.config, p, b, x, nullptr, mask);
    x = at::layer_norm(x, {x.size(-1)}, p.at("norm.weight"), p.at("norm.bias"), tower.config.eps);
    const at::Tensor pooled = x.index({at::arange(N), eot});
    return at::linear(pooled, p.at("proj"));
}

at::Tensor zeroShotClassifier(const ClipTextTower& tower, const text::ClipTokenizer& tokenizer, const std::vector<std::string>& classes,
                              const std::vector<std::string>& templates, const std::function<bool()>& cancelled) {
    if (classes.empty()) throw InvalidArgument("zero-shot head: no class names");
    if (templates.empty()) throw InvalidArgument("zero-shot head: no templates");
    const int C = tower.contextLength();
    const auto T = static_cast<std::int64_t>(templates.size());
    std::vector<at::Tensor> rows;
    for (const std::string& name : classes) {
        if (cancelled && cancelled()) throw Cancelled();
        std::vector<std::int64_t> ids;
        ids.reserve(static_cast<std::size_t>(T * C));
        for (const std::string& tmpl : templates)
            for (int id : tokenizer.tokenize(text::applyTemplate(tmpl, name), C)) ids.push_back(id);
        at::Tensor e = encodeText(tower, at::from_blob(ids.data(), {T, C}, at::kLong));
        e = e / e.norm(2, {1}, true);
        e = e.mean(0);
        rows.push_back(e / e.norm());
    }
    return at::stack(rows);
}

}  // namespace ms::core::model
