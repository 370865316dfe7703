#include "core/model/vit.h"

#include <algorithm>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <set>

#include "core/errors.h"
#include "core/jobs/parallel.h"
#include "core/model/precision.h"

namespace ms::core::model {

std::string qkvPartName(const std::string& fused, char part) {
    const std::string key = "attn.qkv.";
    const auto at = fused.rfind(key);
    if (at == std::string::npos) return fused;
    return fused.substr(0, at) + "attn." + part + "." + fused.substr(at + key.size());
}

ParamMap fusedQkv(const ParamMap& params) {
    ParamMap out;
    std::set<std::string> parts;
    for (const auto& [name, t] : params) {
        const auto at = name.rfind("attn.q.");
        if (at == std::string::npos) continue;
        const std::string fused = name.substr(0, at) + "attn.qkv." + name.substr(at + 7);
        const std::string k = qkvPartName(fused, 'k'), v = qkvPartName(fused, 'v');
        if (!params.count(k) || !params.count(v)) continue;
        out[fused] = at::cat({t, params.at(k), params.at(v)}, 0);
        parts.insert({name, k, v});
    }
    for (const auto& [name, t] : params)
        if (!parts.count(name)) out[name] = t;
    return out;
}

std::vector<ParamShape> vitParamShapes(const VitConfig& c) {
    c.validate();
    const std::int64_t D = c.width, H = c.mlpWidth(), T = c.tokens(), P = c.patchSize;
    std::vector<ParamShape> s = {{"cls_token", {1, 1, D}}, {"pos_embed", {1, T, D}},
                                 {"patch_embed.proj.weight", {D, c.channels, P, P}}};
    if (c.patchBias) s.push_back({"patch_embed.proj.bias", {D}});
    if (c.preNorm) {
        s.push_back({"norm_pre.weight", {D}});
        s.push_back({"norm_pre.bias", {D}});
    }
    for (int b = 0; b < c.depth; ++b) {
        const std::string p = "blocks." + std::to_string(b) + ".";
        s.push_back({p + "norm1.weight", {D}});
        s.push_back({p + "norm1.bias", {D}});
        s.push_back({p + "attn.qkv.weight", {3 * D, D}});
        s.push_back({p + "attn.qkv.bias", {3 * D}});
        s.push_back({p + "attn.proj.weight", {D, D}});
        s.push_back({p + "attn.proj.bias", {D}});
        if (c.layerScale) s.push_back({p + "ls1.gamma", {D}});
        s.push_back({p + "norm2.weight", {D}});
        s.push_back({p + "norm2.bias", {D}});
        s.push_back({p + "mlp.fc1.weight", {H, D}});
        s.push_back({p + "mlp.fc1.bias", {H}});
        s.push_back({p + "mlp.fc2.weight", {D, H}});
        s.push_back({p + "mlp.fc2.bias", {D}});
        if (c.layerScale) s.push_back({p + "ls2.gamma", {D}});
    }
    s.push_back({"norm.weight", {D}});
    s.push_back({"norm.bias", {D}});
    if (c.projection > 0) s.push_back({"proj", {c.projection, D}});
    return s;
}

ParamMap initVit(const VitConfig& c, std::uint64_t seed) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    ParamMap out;
    for (const auto& p : vitParamShapes(c)) {
        const std::string& n = p.name;
        const bool isNormWeight = n.find("norm") != std::string::npos && n.ends_with(".weight");
        at::Tensor t;
        if (n.ends_with(".gamma")) t = at::full(p.shape, 1e-5f, at::kFloat);
        else if (isNormWeight) t = at::ones(p.shape, at::kFloat);
        else if (n.ends_with(".bias")) t = at::zeros(p.shape, at::kFloat);
        else t = at::clamp(at::normal(0.0, 0.02, p.shape, gen, at::kFloat), -0.04, 0.04);
        out[n] = t;
    }
    return out;
}

std::vector<std::string> checkParams(const VitConfig& c, const ParamMap& params) {
    std::vector<std::string> problems;
    std::set<std::string> expected;
    const auto wrongShape = [&](const std::string& name, const at::Tensor& t, const std::vector<std::int64_t>& shape) {
        if (t.sizes().vec() != shape)
            problems.push_back(name + ": shape " + std::string(at::str(t.sizes())) + ", expected " + std::string(at::str(at::IntArrayRef(shape))));
    };
    for (const auto& p : vitParamShapes(c)) {
        expected.insert(p.name);
        const auto it = params.find(p.name);
        if (const std::string q = qkvPartName(p.name, 'q'); it == params.end() && q != p.name && params.count(q)) {
            // Held as its three parts (QkvForm::Parts): each a third of the fused rows.
            std::vector<std::int64_t> third = p.shape;
            third[0] /= 3;
            for (char part : {'q', 'k', 'v'}) {
                const std::string name = qkvPartName(p.name, part);
                expected.insert(name);
                const auto pit = params.find(name);
                if (pit == params.end()) problems.push_back(name + ": missing");
                else wrongShape(name, pit->second, third);
            }
            continue;
        }
        if (it == params.end()) {
            problems.push_back(p.name + ": missing");
        } else if (it->second.sizes().vec() != p.shape) {
            problems.push_back(p.name + ": shape " + std::string(at::str(it->second.sizes())) + ", expected " +
                               std::string(at::str(at::IntArrayRef(p.shape))));
        }
    }
    for (const auto& [name, t] : params)
        if (!expected.count(name)) problems.push_back(name + ": unexpected");
    return problems;
}

at::Tensor resizePosEmbed(const at::Tensor& pos, int grid) { return resizePosEmbed(pos, grid, grid); }

at::Tensor resizePosEmbed(const at::Tensor& pos, int gridHeight, int gridWidth) {
    const std::int64_t D = pos.size(2);
    const auto old = static_cast<std::int64_t>(std::lround(std::sqrt(static_cast<double>(pos.size(1) - 1))));
    if (old == gridHeight && old == gridWidth) return pos;
    const at::Tensor cls = pos.narrow(1, 0, 1);
    at::Tensor patches = pos.narrow(1, 1, old * old).reshape({1, old, old, D}).permute({0, 3, 1, 2});
    patches = at::upsample_bicubic2d(patches, {gridHeight, gridWidth}, /*align_corners=*/false);
    patches = patches.permute({0, 2, 3, 1}).reshape({1, static_cast<std::int64_t>(gridHeight) * gridWidth, D});
    return at::cat({cls, patches}, 1);
}

namespace {
const at::Tensor& param(const ParamMap& p, const std::string& name) {
    const auto it = p.find(name);
    if (it == p.end()) throw InvalidArgument("ViT parameter '" + name + "' is missing");
    return it->second;
}

at::Tensor layerNorm(const at::Tensor& x, const ParamMap& p, const std::string& prefix, double eps) {
    const at::Tensor& w = param(p, prefix + ".weight");
    const at::Tensor& b = param(p, prefix + ".bias");
    // LibTorch 1.13's CPU LayerNorm is 12× slower in bfloat16 than in float32: bf16 forwards
    // normalise in float32 (also the more accurate; mixed-precision training does the same).
    if (x.scalar_type() == at::kBFloat16)
        return at::layer_norm(x.to(at::kFloat), {x.size(-1)}, w.to(at::kFloat), b.to(at::kFloat), eps).to(at::kBFloat16);
    return at::layer_norm(x, {x.size(-1)}, w, b, eps);
}

at::Tensor activate(const at::Tensor& x, Activation a) {
    if (a == Activation::QuickGelu) return x * at::sigmoid(1.702 * x);
    return at::gelu(x);  // exact (erf) GELU, as timm and DINOv2
}
}  // namespace

namespace {
void checkImages(const VitConfig& c, const at::Tensor& images) {
    c.validate();
    if (images.dim() != 4 || images.size(1) != c.channels)
        throw InvalidArgument("ViT input must be [N, " + std::to_string(c.channels) + ", H, W], got " +
                              std::string(at::str(images.sizes())));
}
}  // namespace

at::Tensor vitEmbed(const VitConfig& c, const ParamMap& p, const at::Tensor& images) {
    checkImages(c, images);
    const std::int64_t N = images.size(0), D = c.width;
    // Any height and width: a side that is not a multiple of the patch size is padded at the
    // bottom / right with zeros (the normalised mean colour) to the patch grid, as DINOv2's dense
    // evaluations do; dense heads crop their output back to the input's size.
    const std::int64_t ph = images.size(2), pw = images.size(3), p_ = c.patchSize;
    const auto gridH = static_cast<int>((ph + p_ - 1) / p_), gridW = static_cast<int>((pw + p_ - 1) / p_);
    const at::Tensor padded = ph % p_ || pw % p_ ? at::constant_pad_nd(images, {0, gridW * p_ - pw, 0, gridH * p_ - ph}, 0.0) : images;
    const at::Tensor patchBias = c.patchBias ? param(p, "patch_embed.proj.bias") : at::Tensor();
    at::Tensor x = at::conv2d(padded, param(p, "patch_embed.proj.weight"), patchBias, {c.patchSize, c.patchSize});
    x = x.flatten(2).transpose(1, 2);  // [N, P, D], row-major over the gridH × gridW patches
    x = at::cat({param(p, "cls_token").expand({N, 1, D}), x}, 1);
    x = x + resizePosEmbed(param(p, "pos_embed"), gridH, gridW);
    if (c.preNorm) x = layerNorm(x, p, "norm_pre", c.eps);
    return x;
}

at::Tensor vitBlock(const VitConfig& c, const ParamMap& p, int b, const at::Tensor& xIn, const LinearInputFn* linearInputs,
                    const at::Tensor& attentionMask) {
    const std::int64_t N = xIn.size(0), T = xIn.size(1), D = c.width, Hh = c.heads, dh = D / Hh;
    const double scale = 1.0 / std::sqrt(static_cast<double>(dh));
    const std::string pre = "blocks." + std::to_string(b) + ".";
    const auto seen = [&](const char* module, const at::Tensor& input) {
        if (linearInputs) (*linearInputs)(pre + module, input);
    };
    at::Tensor x = xIn;
    at::Tensor h = layerNorm(x, p, pre + "norm1", c.eps);
    seen("attn.qkv", h);
    at::Tensor qkvWeight, qkvBias;
    if (const auto fused = p.find(pre + "attn.qkv.weight"); fused != p.end()) {
        qkvWeight = fused->second, qkvBias = param(p, pre + "attn.qkv.bias");
    } else {
        // Held as its three parts (QkvForm::Parts): fused for this block only (3·D² floats,
        // freed after it), so the product — and every bit of the result — is the fused one's.
        const auto part = [&](char c, const char* what) { return param(p, pre + "attn." + c + "." + what); };
        qkvWeight = at::cat({part('q', "weight"), part('k', "weight"), part('v', "weight")}, 0);
        qkvBias = at::cat({part('q', "bias"), part('k', "bias"), part('v', "bias")}, 0);
    }
    const at::Tensor qkv = at::linear(h, qkvWeight, qkvBias)
                               .reshape({N, T, 3, Hh, dh})
                               .permute({2, 0, 3, 1, 4});  // [3, N, H, T, dh]
    at::Tensor logits = at::matmul(qkv[0], qkv[1].transpose(-2, -1)) * scale;
    if (attentionMask.defined()) logits = logits + attentionMask;
    const at::Tensor attn = at::softmax(logits, -1);
    h = at::matmul(attn, qkv[2]).transpose(1, 2).reshape({N, T, D});
    seen("attn.proj", h);
    h = at::linear(h, param(p, pre + "attn.proj.weight"), param(p, pre + "attn.proj.bias"));
    if (c.layerScale) h = h * param(p, pre + "ls1.gamma");
    x = x + h;
    h = layerNorm(x, p, pre + "norm2", c.eps);
    seen("mlp.fc1", h);
    h = activate(at::linear(h, param(p, pre + "mlp.fc1.weight"), param(p, pre + "mlp.fc1.bias")), c.activation);
    seen("mlp.fc2", h);
    h = at::linear(h, param(p, pre + "mlp.fc2.weight"), param(p, pre + "mlp.fc2.bias"));
    if (c.layerScale) h = h * param(p, pre + "ls2.gamma");
    return x + h;
}

namespace {
VitFeatures forward(const VitConfig& c, const ParamMap& p, const at::Tensor& images, const ForwardOptions& options);

// bf16 only for plain inference: nothing trains through it and no hook reads its inputs.
bool inBf16(const ParamMap& p, const ForwardOptions& options) {
    if (encoderPrecision() != Precision::Bf16 || options.linearInputs || at::GradMode::is_enabled()) return false;
    for (const auto& [name, t] : p)
        if (t.requires_grad()) return false;
    return true;
}

// bf16 matrix products run on oneDNN, on LibTorch's intra-op (OpenMP) pool, not on OpenBLAS's:
// for a bf16 forward that pool gets the threads the process was given (--threads; OpenBLAS is
// idle meanwhile, so nothing is oversubscribed), then the caller's setting comes back. OpenMP
// keeps the setting per thread: concurrent forwards on other threads are not affected.
class IntraOpThreads {
public:
    explicit IntraOpThreads(int n) : m_before(at::get_num_threads()) {
        if (n > 0 && n != m_before) at::set_num_threads(n);
    }
    ~IntraOpThreads() {
        if (at::get_num_threads() != m_before) at::set_num_threads(m_before);
    }
    IntraOpThreads(const IntraOpThreads&) = delete;
    IntraOpThreads& operator=(const IntraOpThreads&) = delete;

private:
    int m_before;
};
}  // namespace

VitFeatures vitForward(const VitConfig& c, const ParamMap& p, const at::Tensor& images, const ForwardOptions& options) {
    if (!inBf16(p, options)) return forward(c, p, images, options);
    const IntraOpThreads threads(static_cast<int>(workerThreads()));
    ParamMap half;
    for (const auto& [name, t] : p) half[name] = t.is_floating_point() ? t.to(at::kBFloat16) : t;
    std::vector<Adapter> adapters;
    ForwardOptions o = options;
    if (options.adapters) {
        for (const Adapter& a : *options.adapters) adapters.push_back({a.down.to(at::kBFloat16), a.up.to(at::kBFloat16)});
        o.adapters = &adapters;
    }
    VitFeatures f = forward(c, half, images.to(at::kBFloat16), o);
    f.tokens = f.tokens.to(at::kFloat);
    for (auto& b : f.blocks) b = b.to(at::kFloat);
    if (f.embedding.defined()) f.embedding = f.embedding.to(at::kFloat);
    return f;
}

namespace {
VitFeatures forward(const VitConfig& c, const ParamMap& p, const at::Tensor& images, const ForwardOptions& options) {
    at::Tensor x = vitEmbed(c, p, images);
    VitFeatures out;
    out.height = static_cast<int>(images.size(2));
    out.width = static_cast<int>(images.size(3));
    if (options.adapters && static_cast<int>(options.adapters->size()) != c.depth)
        throw InvalidArgument("ViT adapters: " + std::to_string(options.adapters->size()) + " given, the encoder has " +
                              std::to_string(c.depth) + " blocks");
    for (int b = 0; b < c.depth; ++b) {
        at::Tensor adapted;
        if (options.adapters) {
            const Adapter& a = (*options.adapters)[static_cast<std::size_t>(b)];
            adapted = at::linear(at::linear(x, a.down), a.up);
        }
        x = vitBlock(c, p, b, x, options.linearInputs);
        if (adapted.defined()) x = x + adapted;
        if (std::find(options.keepBlocks.begin(), options.keepBlocks.end(), b) != options.keepBlocks.end()) {
            out.blocks.push_back(options.normBlocks ? layerNorm(x, p, "norm", c.eps) : x);
            out.blockIndices.push_back(b);
        }
    }
    out.tokens = layerNorm(x, p, "norm", c.eps);
    if (c.projection > 0) out.embedding = at::linear(out.tokens.select(1, 0), param(p, "proj"));
    return out;
}
}  // namespace

}  // namespace ms::core::model
