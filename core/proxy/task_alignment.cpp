#include "core/proxy/task_alignment.h"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "core/errors.h"
#include "core/io/cache_store.h"
#include "core/model/precision.h"
#include "core/io/content_hash.h"
#include "core/io/source_factory.h"
#include "core/model/heads.h"
#include "core/model/param_io.h"

namespace ms::core::proxy {

namespace fs = std::filesystem;

namespace {

at::Tensor rows(const at::Tensor& tokens, Features f) {
    switch (f) {
        case Features::Tokens: return tokens.reshape({-1, tokens.size(-1)});
        case Features::ClassToken: return tokens.select(1, 0);
        case Features::MeanPatches: return tokens.narrow(1, 1, tokens.size(1) - 1).mean(1);
    }
    return tokens;
}

double normalise(double a, double a0) {
    const double gap = 1.0 - a0;
    if (std::fabs(gap) < 1e-12) return 1.0;  // the expert is the base: nothing to close
    return (a - a0) / gap;
}

[[noreturn]] void badVariant(const std::string& name, const std::string& why) {
    throw InvalidArgument("unknown proxy '" + name + "' (" + why +
                          "); use task-alignment, weight-space, or FEATURES-SIMILARITY[@BLOCK] with FEATURES one of "
                          "tokens, cls, mean and SIMILARITY cosine or cka, e.g. mean-cka@2, or @heads for the blocks each task's head reads");
}

}  // namespace

ProxyVariant parseProxyVariant(const std::string& name) {
    ProxyVariant v;
    if (name == "task-alignment" || name == "tokens-cosine") {
        v.name = "task-alignment";
        return v;
    }
    if (name == "weight-space") {
        v.name = name;
        v.weightSpace = true;
        return v;
    }
    std::string body = name;
    if (const auto at = name.find('@'); at != std::string::npos) {
        body = name.substr(0, at);
        const std::string block = name.substr(at + 1);
        if (block == "heads") v.headBlocks = true;
        else if (block.empty() || block.find_first_not_of("0123456789") != std::string::npos) badVariant(name, "bad block number");
        else v.block = std::stoi(block);
    }
    const auto dash = body.find('-');
    if (dash == std::string::npos) badVariant(name, "no similarity");
    const std::string f = body.substr(0, dash), s = body.substr(dash + 1);
    if (f == "tokens") v.features = Features::Tokens;
    else if (f == "cls") v.features = Features::ClassToken;
    else if (f == "mean") v.features = Features::MeanPatches;
    else badVariant(name, "features '" + f + "'");
    if (s == "cosine") v.similarity = Similarity::Cosine;
    else if (s == "cka") v.similarity = Similarity::LinearCka;
    else badVariant(name, "similarity '" + s + "'");
    v.name = (v.features == Features::Tokens && v.similarity == Similarity::Cosine && v.block < 0 && !v.headBlocks) ? "task-alignment" : name;
    return v;
}

double linearCka(const at::Tensor& x0, const at::Tensor& y0) {
    at::Tensor x = x0.to(at::kDouble), y = y0.to(at::kDouble);
    x = x - x.mean(0, true);
    y = y - y.mean(0, true);
    const double hsic = at::matmul(y.t(), x).pow(2).sum().item<double>();
    const double nx = at::matmul(x.t(), x).pow(2).sum().sqrt().item<double>();
    const double ny = at::matmul(y.t(), y).pow(2).sum().sqrt().item<double>();
    if (nx == 0 || ny == 0) return 0;
    return hsic / (nx * ny);
}

// Mean token cosine of a and b [n, T, D], image by image: [n] float64 (featureSimilarity's tokens-cosine
// is the mean of these).
at::Tensor imageCosine(const at::Tensor& a, const at::Tensor& b) {
    return at::cosine_similarity(a.to(at::kDouble), b.to(at::kDouble), 2, 1e-12).mean(1);
}

double featureSimilarity(const at::Tensor& a, const at::Tensor& b, Features features, Similarity similarity) {
    const at::Tensor ra = rows(a, features), rb = rows(b, features);
    if (similarity == Similarity::LinearCka) return linearCka(ra, rb);
    return at::cosine_similarity(ra.to(at::kDouble), rb.to(at::kDouble), 1, 1e-12).mean().item<double>();
}

TaskAlignmentProxy::TaskAlignmentProxy(const eval::TaskSuite& suite, std::vector<ProxyVariant> variants,
                                       std::string cacheDir, ProgressSink& progress, const CancelToken* cancel)
    : m_suite(suite), m_variants(std::move(variants)), m_cacheDir(std::move(cacheDir)) {
    bool needData = false, needWeights = false;
    for (const auto& v : m_variants) {
        if (v.weightSpace) {
            needWeights = true;
            continue;
        }
        needData = true;
        if (v.block >= suite.config().depth)
            throw InvalidArgument("proxy '" + v.name + "': the encoder has " + std::to_string(suite.config().depth) +
                                  " blocks (0.." + std::to_string(suite.config().depth - 1) + ")");
        if (v.block >= 0 && std::find(m_blocks.begin(), m_blocks.end(), v.block) == m_blocks.end()) m_blocks.push_back(v.block);
        if (v.headBlocks)
            for (const auto& t : suite.tasks)
                for (int b : model::headBlocks(t.headConfig, suite.config().depth))
                    if (std::find(m_normBlocks.begin(), m_normBlocks.end(), b) == m_normBlocks.end()) m_normBlocks.push_back(b);
    }
    const std::size_t T = suite.tasks.size();
    if (needWeights)
        for (std::size_t t = 0; t < T; ++t) {
            model::ParamMap tv;
            for (const auto& [n, b] : suite.base) tv[n] = suite.experts[t].at(n) - b;
            m_taskVectors.push_back(std::move(tv));
        }
    if (!needData) {
        for (const auto& v : m_variants) m_baseAlignment[v.name].assign(T, 0.0);
        return;
    }
    // Expert features on their own probe sets; the base's on every probe set.
    std::map<const data::ImageSet*, LayerFeatures> baseFeatures;
    for (std::size_t t = 0; t < T; ++t) {
        progress.report("expert features", t, T);
        const auto& task = suite.tasks[t];
        m_expert.push_back(cachedFeatures(suite.experts[t], task.expertHash, *task.probe, cancel));
        model::releaseResident(suite.experts[t]);  // one expert resident at a time
        if (!baseFeatures.count(task.probe.get()))
            baseFeatures[task.probe.get()] = cachedFeatures(suite.base, suite.kit.baseHash, *task.probe, cancel);
        m_baseImage.push_back(imageCosine(baseFeatures[task.probe.get()][0], m_expert[t][0]));
    }
    progress.report("expert features", T, T);
    for (const auto& v : m_variants) {
        auto& a0 = m_baseAlignment[v.name];
        for (std::size_t t = 0; t < T; ++t) {
            if (v.weightSpace) {
                a0.push_back(0.0);
                continue;
            }
            a0.push_back(featureSimilarity(variantFeatures(baseFeatures[suite.tasks[t].probe.get()], v, t), variantFeatures(m_expert[t], v, t),
                                           v.features, v.similarity));
        }
    }
}

std::size_t TaskAlignmentProxy::layerIndex(const ProxyVariant& v) const {
    if (v.block < 0) return 0;
    return 1 + static_cast<std::size_t>(std::find(m_blocks.begin(), m_blocks.end(), v.block) - m_blocks.begin());
}

at::Tensor TaskAlignmentProxy::variantFeatures(const LayerFeatures& f, const ProxyVariant& v, std::size_t task) const {
    if (!v.headBlocks) return f[layerIndex(v)];
    const auto blocks = model::headBlocks(m_suite.tasks[task].headConfig, m_suite.config().depth);
    if (blocks.empty()) return f[0];
    std::vector<at::Tensor> parts;
    for (int b : blocks)
        parts.push_back(f[1 + m_blocks.size() + static_cast<std::size_t>(std::find(m_normBlocks.begin(), m_normBlocks.end(), b) - m_normBlocks.begin())]);
    return parts.size() == 1 ? parts.front() : at::cat(parts, 2);
}

// Layer features: the final tokens, the raw outputs of m_blocks, then m_normBlocks' outputs
// through the encoder's final LayerNorm.
TaskAlignmentProxy::LayerFeatures TaskAlignmentProxy::features(const model::ParamMap& params, const data::ImageSet& probe,
                                                               const CancelToken* cancel) const {
    model::ForwardOptions options;
    options.keepBlocks = m_blocks;
    for (int b : m_normBlocks)
        if (std::find(options.keepBlocks.begin(), options.keepBlocks.end(), b) == options.keepBlocks.end()) options.keepBlocks.push_back(b);
    model::VitFeatures f = eval::encodeSet(m_suite.config(), params, probe, options, cancel);
    const auto block = [&](int b) { return f.blocks[static_cast<std::size_t>(std::find(f.blockIndices.begin(), f.blockIndices.end(), b) - f.blockIndices.begin())]; };
    LayerFeatures out = {f.tokens};
    for (int b : m_blocks) out.push_back(block(b));
    for (int b : m_normBlocks) {
        const at::Tensor x = block(b);
        out.push_back(at::layer_norm(x, {x.size(-1)}, params.at("norm.weight"), params.at("norm.bias"), m_suite.config().eps));
    }
    return out;
}

TaskAlignmentProxy::LayerFeatures TaskAlignmentProxy::cachedFeatures(const model::ParamMap& params,
                                                                     const std::string& checkpointHash,
                                                                     const data::ImageSet& probe, const CancelToken* cancel) {
    if (m_cacheDir.empty() || checkpointHash.empty()) return features(params, probe, cancel);
    std::string key = checkpointHash + "|" + io::hashBytes(probe.pixels.data(), probe.pixels.size()) + "|" +
                      std::to_string(probe.count) + "|blocks";
    for (int b : m_blocks) key += "," + std::to_string(b);
    if (!m_normBlocks.empty()) key += "|normed";
    for (int b : m_normBlocks) key += "," + std::to_string(b);
    if (model::encoderPrecision() == model::Precision::Bf16) key += "|bf16";  // features kept at the precision used
    const std::string file = m_cacheDir + "/" + io::hashBytes(key.data(), key.size()) + ".safetensors";
    if (fs::exists(file)) {
        try {
            const model::ParamMap stored = model::loadParams(*io::openCheckpoint(file));
            LayerFeatures out;
            for (std::size_t l = 0; l <= m_blocks.size() + m_normBlocks.size(); ++l) out.push_back(stored.at("layer." + std::to_string(l)));
            ++m_cacheHits;
            io::touchCacheEntry(file);
            return out;
        } catch (const std::exception&) {
            // A damaged cache entry is recomputed and replaced.
        }
    }
    LayerFeatures out = features(params, probe, cancel);
    try {
        fs::create_directories(m_cacheDir);
        model::ParamMap toStore;
        for (std::size_t l = 0; l < out.size(); ++l) toStore["layer." + std::to_string(l)] = out[l];
        model::writeParams(file, toStore, {{"mergescope.features", key}});
        io::enforceCacheCap(m_cacheDir);
    } catch (const Error&) {
        // The cache is an optimisation: a read-only or full cache directory only costs time.
    }
    return out;
}

ProxyScores TaskAlignmentProxy::rawAlignment(const std::vector<const model::ParamMap*>& merged,
                                             const CancelToken* cancel) const {
    const std::size_t T = m_suite.tasks.size();
    if (merged.size() != T) throw InvalidArgument("proxy: one merged encoder per task expected");
    std::map<std::pair<const model::ParamMap*, const data::ImageSet*>, LayerFeatures> done;
    ProxyScores out;
    for (std::size_t t = 0; t < T; ++t) {
        const LayerFeatures* f = nullptr;
        for (const auto& v : m_variants) {
            double a = 0;
            if (v.weightSpace) {
                double dot = 0, nm = 0, nt = 0;
                for (const auto& [n, b] : m_suite.base) {
                    const at::Tensor d = (merged[t]->at(n) - b).to(at::kDouble), tv = m_taskVectors[t].at(n).to(at::kDouble);
                    dot += (d * tv).sum().item<double>();
                    nm += d.pow(2).sum().item<double>();
                    nt += tv.pow(2).sum().item<double>();
                }
                a = (nm > 0 && nt > 0) ? dot / std::sqrt(nm * nt) : 0.0;
            } else {
                if (!f) {
                    const auto key = std::make_pair(merged[t], m_suite.tasks[t].probe.get());
                    auto it = done.find(key);
                    if (it == done.end()) it = done.emplace(key, features(*merged[t], *m_suite.tasks[t].probe, cancel)).first;
                    f = &it->second;
                }
                a = featureSimilarity(variantFeatures(*f, v, t), variantFeatures(m_expert[t], v, t), v.features, v.similarity);
            }
            out[v.name].push_back(a);
        }
    }
    return out;
}

ProxyScores TaskAlignmentProxy::scorePerTask(const std::vector<const model::ParamMap*>& merged,
                                             const CancelToken* cancel) const {
    ProxyScores raw = rawAlignment(merged, cancel);
    for (auto& [name, values] : raw) {
        const auto& a0 = m_baseAlignment.at(name);
        for (std::size_t t = 0; t < values.size(); ++t) values[t] = normalise(values[t], a0[t]);
    }
    return raw;
}

ProxyScores TaskAlignmentProxy::score(const model::ParamMap& merged, const CancelToken* cancel) const {
    return scorePerTask(std::vector<const model::ParamMap*>(m_suite.tasks.size(), &merged), cancel);
}

std::vector<at::Tensor> TaskAlignmentProxy::imageGains(const std::vector<const model::ParamMap*>& merged, std::int64_t first,
                                                       std::int64_t count, const CancelToken* cancel) const {
    const std::size_t T = m_suite.tasks.size();
    if (merged.size() != T) throw InvalidArgument("proxy: one merged encoder per task expected");
    if (m_baseImage.size() != T) throw InvalidArgument("proxy: the staged estimate needs the task-alignment variant");
    std::map<std::pair<const model::ParamMap*, const data::ImageSet*>, at::Tensor> done;  // final tokens of the images
    std::vector<at::Tensor> out;
    for (std::size_t t = 0; t < T; ++t) {
        const data::ImageSet& probe = *m_suite.tasks[t].probe;
        const std::int64_t begin = std::min<std::int64_t>(first, probe.count), end = std::min<std::int64_t>(first + count, probe.count);
        if (end <= begin) {
            out.push_back(at::empty({0}, at::kDouble));
            continue;
        }
        const auto key = std::make_pair(merged[t], &probe);
        auto it = done.find(key);
        if (it == done.end()) {
            const bool whole = begin == 0 && end == probe.count;  // the set itself, not a copy of it
            data::ImageSet part;
            if (!whole) {
                std::vector<std::size_t> idx;
                for (std::int64_t i = begin; i < end; ++i) idx.push_back(static_cast<std::size_t>(i));
                part = probe.subset(idx, probe.name);
            }
            model::ForwardOptions options;  // final tokens only
            it = done.emplace(key, eval::encodeSet(m_suite.config(), *merged[t], whole ? probe : part, options, cancel).tokens).first;
        }
        const at::Tensor mergedCos = imageCosine(it->second, m_expert[t][0].narrow(0, begin, end - begin));
        out.push_back(mergedCos - m_baseImage[t].narrow(0, begin, end - begin));
    }
    return out;
}

TaskAlignmentProxy::Estimate TaskAlignmentProxy::estimate(const std::vector<at::Tensor>& gains) const {
    const std::size_t T = m_suite.tasks.size();
    if (gains.size() != T || m_baseImage.size() != T) throw InvalidArgument("proxy: one set of gains per task expected");
    const auto a0 = m_baseAlignment.find("task-alignment");
    Estimate e;
    for (std::size_t t = 0; t < T; ++t) {
        const std::int64_t n = gains[t].numel(), N = m_baseImage[t].numel();
        const double gap = 1.0 - (a0 != m_baseAlignment.end() ? a0->second[t] : m_baseImage[t].mean().item<double>());
        e.images.push_back(n);
        e.total.push_back(N);
        if (std::fabs(gap) < 1e-12) {  // the expert is the base (normalise's convention)
            e.value.push_back(1.0);
            e.error.push_back(0.0);
            continue;
        }
        if (n == 0) {
            e.value.push_back(std::nan(""));
            e.error.push_back(std::nan(""));
            continue;
        }
        e.value.push_back(gains[t].mean().item<double>() / gap);
        if (n >= N) e.error.push_back(0.0);
        else if (n < 2) e.error.push_back(std::nan(""));
        else
            e.error.push_back(gains[t].std(/*unbiased=*/true).item<double>() / std::sqrt(static_cast<double>(n)) *
                              std::sqrt(1.0 - static_cast<double>(n) / static_cast<double>(N)) / std::fabs(gap));
    }
    return e;
}

}  // namespace ms::core::proxy
