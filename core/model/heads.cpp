#include "core/model/heads.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

#include "core/errors.h"

namespace ms::core::model {

std::string headKindName(HeadKind k) {
    switch (k) {
        case HeadKind::Classifier: return "classifier";
        case HeadKind::Dense: return "dense";
        case HeadKind::ZeroShot: return "zeroshot";
        case HeadKind::DenseProbe: return "dense_probe";
    }
    return "?";
}
HeadKind parseHeadKind(const std::string& s) {
    for (HeadKind k : {HeadKind::Classifier, HeadKind::Dense, HeadKind::ZeroShot, HeadKind::DenseProbe})
        if (headKindName(k) == s) return k;
    throw InvalidArgument("unknown head kind '" + s + "' (classifier, dense, zeroshot, dense_probe)");
}

std::vector<int> headBlocks(const HeadConfig& h, int depth) {
    std::vector<int> out;
    for (int l : h.layers) {
        const int b = l < 0 ? depth + l : l;
        if (b < 0 || b >= depth)
            throw InvalidArgument("head layer " + std::to_string(l) + ": the encoder has blocks 0.." + std::to_string(depth - 1) +
                                  " (or -1..-" + std::to_string(depth) + " from the end)");
        out.push_back(b);
    }
    return out;
}

void requestHeadBlocks(ForwardOptions& o, const HeadConfig& h, int depth) {
    for (int b : headBlocks(h, depth)) {
        if (std::find(o.keepBlocks.begin(), o.keepBlocks.end(), b) == o.keepBlocks.end()) o.keepBlocks.push_back(b);
        o.normBlocks = true;
    }
}

at::Tensor headTokens(const HeadConfig& h, const VitFeatures& f, int depth) {
    if (h.kind == HeadKind::ZeroShot && f.embedding.defined()) return f.embedding.unsqueeze(1);  // [N, 1, P]
    if (h.layers.empty()) return f.tokens;
    std::vector<at::Tensor> parts;
    for (int b : headBlocks(h, depth)) {
        const auto it = std::find(f.blockIndices.begin(), f.blockIndices.end(), b);
        if (it == f.blockIndices.end()) throw InvalidArgument("head: block " + std::to_string(b) + " was not kept by the forward");
        parts.push_back(f.blocks[static_cast<std::size_t>(it - f.blockIndices.begin())]);
    }
    return parts.size() == 1 ? parts.front() : at::cat(parts, 2);
}
std::string poolingName(Pooling p) { return p == Pooling::ClassToken ? "cls" : "mean"; }
Pooling parsePooling(const std::string& s) {
    if (s == "cls") return Pooling::ClassToken;
    if (s == "mean") return Pooling::MeanPatches;
    throw InvalidArgument("unknown pooling '" + s + "' (cls, mean)");
}

ParamMap initHead(const HeadConfig& h, int width, std::uint64_t seed) {
    if (h.outputs <= 0) throw InvalidArgument("a head needs at least one output");
    if (h.kind == HeadKind::ZeroShot) throw InvalidArgument("a zero-shot head comes from text embeddings, it is not initialised");
    const std::int64_t rows = h.kind == HeadKind::Dense ? static_cast<std::int64_t>(h.outputs) * h.patchSize * h.patchSize : h.outputs;
    const std::int64_t in = static_cast<std::int64_t>(width) * static_cast<std::int64_t>(std::max<std::size_t>(1, h.layers.size()));
    at::Generator gen = at::detail::createCPUGenerator(seed);
    ParamMap out = {{"head.weight", at::normal(0.0, 0.02, {rows, in}, gen, at::kFloat)}, {"head.bias", at::zeros({rows}, at::kFloat)}};
    if (h.kind == HeadKind::DenseProbe) {
        out["head.bn.weight"] = at::ones({in}, at::kFloat);
        out["head.bn.bias"] = at::zeros({in}, at::kFloat);
        out["head.bn.running_mean"] = at::zeros({in}, at::kFloat);
        out["head.bn.running_var"] = at::ones({in}, at::kFloat);
    }
    return out;
}

at::Tensor headForward(const HeadConfig& h, const ParamMap& params, const at::Tensor& tokens, bool training, int height, int width) {
    if (h.kind == HeadKind::ZeroShot) {
        const auto text = params.find("head.text"), proj = params.find("head.projection"), scale = params.find("head.logit_scale");
        const auto weight = params.find("head.weight"), bias = params.find("head.bias");
        // Without head.projection the encoder projected already (headTokens passed its embedding).
        const at::Tensor z = proj == params.end() ? tokens.select(1, 0) : at::linear(tokens.select(1, 0), proj->second);
        const at::Tensor zn = h.normalize ? z / z.norm(2, {1}, true).clamp_min(1e-12) : z;
        if (weight != params.end() && bias != params.end()) return at::linear(zn, weight->second, bias->second);  // a ClassificationHead
        if (text == params.end() || scale == params.end())
            throw InvalidArgument("zero-shot head: head.text / head.logit_scale (or head.weight / head.bias) missing");
        const at::Tensor tn = text->second / text->second.norm(2, {1}, true).clamp_min(1e-12);
        return at::matmul(zn, tn.t()) * scale->second.exp();
    }
    const auto w = params.find("head.weight"), b = params.find("head.bias");
    if (w == params.end() || b == params.end()) throw InvalidArgument("head.weight / head.bias missing");
    if (h.kind == HeadKind::Classifier) {
        const at::Tensor pooled = h.pooling == Pooling::ClassToken ? tokens.select(1, 0)
                                                                   : tokens.narrow(1, 1, tokens.size(1) - 1).mean(1);
        return at::linear(pooled, w->second, b->second);
    }
    const std::int64_t N = tokens.size(0), P = tokens.size(1) - 1, p = h.patchSize, K = h.outputs;
    std::int64_t gh = 0, gw = 0, outH = 0, outW = 0;
    if (height > 0 && width > 0) {
        gh = (height + p - 1) / p;
        gw = (width + p - 1) / p;
        outH = height;
        outW = width;
    } else {
        gh = gw = static_cast<std::int64_t>(std::lround(std::sqrt(static_cast<double>(P))));
        outH = outW = gh * p;
    }
    if (gh * gw != P)
        throw InvalidArgument("dense head: " + std::to_string(P) + " patch tokens do not form the " + std::to_string(gh) + "×" + std::to_string(gw) +
                              " grid of the input");
    // The grid's output, its padding (if any) cropped off.
    const auto crop = [&](const at::Tensor& y) { return gh * p == outH && gw * p == outW ? y : y.narrow(2, 0, outH).narrow(3, 0, outW); };
    if (h.kind == HeadKind::DenseProbe) {
        const auto find = [&](const char* name) {
            const auto it = params.find(name);
            if (it == params.end()) throw InvalidArgument(std::string("dense probe head: ") + name + " missing");
            return it->second;
        };
        const std::int64_t C = tokens.size(2);
        at::Tensor x = tokens.narrow(1, 1, P).transpose(1, 2).reshape({N, C, gh, gw});
        x = at::batch_norm(x, find("head.bn.weight"), find("head.bn.bias"), find("head.bn.running_mean"), find("head.bn.running_var"),
                           training, 0.1, 1e-5, false);
        at::Tensor map = w->second;
        if (map.dim() == 2) map = map.reshape({map.size(0), map.size(1), 1, 1});  // a 1×1 convolution
        x = at::conv2d(x, map, b->second);
        return crop(at::upsample_bilinear2d(x, {gh * p, gw * p}, false));
    }
    at::Tensor y = at::linear(tokens.narrow(1, 1, P), w->second, b->second);  // [N, P, K·p·p]
    y = y.reshape({N, gh, gw, K, p, p}).permute({0, 3, 1, 4, 2, 5});          // [N, K, gh, p, gw, p]
    return crop(y.reshape({N, K, gh * p, gw * p}));
}

}  // namespace ms::core::model
