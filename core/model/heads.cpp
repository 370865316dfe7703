#include "core/model/heads.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "core/errors.h"

namespace ms::core::model {

std::string headKindName(HeadKind k) {
    switch (k) {
        case HeadKind::Classifier: return "classifier";
        case HeadKind::Dense: return "dense";
        case HeadKind::ZeroShot: return "zeroshot";
    }
    return "?";
}
HeadKind parseHeadKind(const std::string& s) {
    for (HeadKind k : {HeadKind::Classifier, HeadKind::Dense, HeadKind::ZeroShot})
        if (headKindName(k) == s) return k;
    throw InvalidArgument("unknown head kind '" + s + "' (classifier, dense, zeroshot)");
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
    const std::int64_t rows = h.kind == HeadKind::Classifier ? h.outputs
                                                             : static_cast<std::int64_t>(h.outputs) * h.patchSize * h.patchSize;
    at::Generator gen = at::detail::createCPUGenerator(seed);
    return {{"head.weight", at::normal(0.0, 0.02, {rows, width}, gen, at::kFloat)},
            {"head.bias", at::zeros({rows}, at::kFloat)}};
}

at::Tensor headForward(const HeadConfig& h, const ParamMap& params, const at::Tensor& tokens) {
    if (h.kind == HeadKind::ZeroShot) {
        const auto text = params.find("head.text"), proj = params.find("head.projection"), scale = params.find("head.logit_scale");
        if (text == params.end() || proj == params.end() || scale == params.end())
            throw InvalidArgument("zero-shot head: head.text / head.projection / head.logit_scale missing");
        const at::Tensor z = at::linear(tokens.select(1, 0), proj->second);
        const at::Tensor zn = z / z.norm(2, {1}, true).clamp_min(1e-12);
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
    const auto g = static_cast<std::int64_t>(std::lround(std::sqrt(static_cast<double>(P))));
    if (g * g != P) throw InvalidArgument("dense head: the patch tokens do not form a square grid");
    at::Tensor y = at::linear(tokens.narrow(1, 1, P), w->second, b->second);  // [N, P, K·p·p]
    y = y.reshape({N, g, g, K, p, p}).permute({0, 3, 1, 4, 2, 5});            // [N, K, g, p, g, p]
    return y.reshape({N, K, g * p, g * p});
}

}  // namespace ms::core::model
