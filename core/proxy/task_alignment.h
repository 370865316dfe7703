// The task alignment proxy (METHODS.md, "The task alignment proxy"): per task, how closely the
// merged encoder reproduces the expert's features on that task's probe images, as the share of
// the base-to-expert gap closed: Â_t = (A_t(θ) − A_t(θ0)) / (1 − A_t(θ0)). Label- and
// decoder-free. Variants, by name:
//   task-alignment      = tokens-cosine: mean token-wise cosine of the final features (default)
//   FEATURES-SIMILARITY[@BLOCK]
//       FEATURES    tokens (class + patch tokens), cls (class token), mean (mean patch token)
//       SIMILARITY  cosine (mean per row) or cka (linear CKA over all rows)
//       @BLOCK      the output of block BLOCK (0-based) instead of the final normalised tokens
//       @heads      per task, what its head reads: the blocks of its `layers` through the final
//                   LayerNorm, concatenated (the final tokens for a head without layers)
//   weight-space        cosine between the merged task vector θ − θ0 and τ_t (no data at all)
// Expert and base features are computed once per (checkpoint hash, probe set, layer) and cached
// on disk, so a sweep point costs only the merged encoder's forward passes (one per data set).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/eval/task_suite.h"
#include "core/jobs/progress.h"

namespace ms::core::proxy {

enum class Features { Tokens, ClassToken, MeanPatches };
enum class Similarity { Cosine, LinearCka };

struct ProxyVariant {
    std::string name;  // canonical, e.g. "task-alignment", "mean-cka@2", "weight-space"
    bool weightSpace = false;
    Features features = Features::Tokens;
    Similarity similarity = Similarity::Cosine;
    int block = -1;  // -1: the final normalised tokens
    bool headBlocks = false;  // @heads: each task's head's blocks
};

// Throws InvalidArgument listing the accepted forms.
ProxyVariant parseProxyVariant(const std::string& name);

// Raw similarity of two feature tensors [N, T, D] under a variant's features and similarity.
double featureSimilarity(const at::Tensor& a, const at::Tensor& b, Features features, Similarity similarity);
// Linear CKA of two row sets [n, d1], [n, d2] (columns centred), in float64.
double linearCka(const at::Tensor& x, const at::Tensor& y);

// Variant → normalised alignment per task (task order of the suite).
using ProxyScores = std::map<std::string, std::vector<double>>;

class TaskAlignmentProxy {
public:
    // Computes (or reads from `cacheDir`, "" for no disk cache) the experts' features on their
    // probe sets and the base's, and the base's alignment per task and variant.
    TaskAlignmentProxy(const eval::TaskSuite& suite, std::vector<ProxyVariant> variants, std::string cacheDir,
                       ProgressSink& progress = nullProgress(), const CancelToken* cancel = nullptr);

    const std::vector<ProxyVariant>& variants() const { return m_variants; }

    // One merged encoder for every task.
    ProxyScores score(const model::ParamMap& merged, const CancelToken* cancel = nullptr) const;
    // One merged encoder per task (per-task methods: TALL masks, EMR).
    ProxyScores scorePerTask(const std::vector<const model::ParamMap*>& merged, const CancelToken* cancel = nullptr) const;

    // Raw alignment A_t(θ) of each variant (before normalisation).
    ProxyScores rawAlignment(const std::vector<const model::ParamMap*>& merged, const CancelToken* cancel = nullptr) const;
    const ProxyScores& baseAlignment() const { return m_baseAlignment; }

    // The live slider's staged score of the default variant (task-alignment: mean token cosine of
    // the final features; the proxy must have it). Per task t and probe image i, the gain
    // d_i = a_i(θ) − a_i(θ0): the merged encoder's and the base's mean token cosine to the expert
    // on image i. Over the whole probe set, mean(d)/(1 − A_t(θ0)) is score()'s Â_t (the same
    // numbers, summed in another order); over the first n of N images it is an unbiased estimate
    // of it, paired with the base (whose features are cached), so its spread is the spread of
    // the gains, not of the alignments.
    // Gains of probe images [first, first + count) of each task's probe set (fewer where the set
    // is shorter; one forward per distinct encoder and probe set).
    std::vector<at::Tensor> imageGains(const std::vector<const model::ParamMap*>& merged, std::int64_t first, std::int64_t count,
                                       const CancelToken* cancel = nullptr) const;
    struct Estimate {
        std::vector<double> value;  // Â_t from the gains given
        std::vector<double> error;  // its standard error: sd(d)/√n · √(1 − n/N) / (1 − A_t(θ0)); 0 with every image, NaN with one
        std::vector<std::int64_t> images, total;  // n and N per task
    };
    // From each task's gains of its first n images (n ≤ N).
    Estimate estimate(const std::vector<at::Tensor>& gains) const;
    int cacheHits() const { return m_cacheHits; }

private:
    // Features of one encoder on one probe set: index 0 the final tokens, then one per block in m_blocks.
    using LayerFeatures = std::vector<at::Tensor>;
    LayerFeatures features(const model::ParamMap& params, const data::ImageSet& probe, const CancelToken* cancel) const;
    LayerFeatures cachedFeatures(const model::ParamMap& params, const std::string& checkpointHash,
                                 const data::ImageSet& probe, const CancelToken* cancel);
    std::size_t layerIndex(const ProxyVariant& v) const;

    const eval::TaskSuite& m_suite;
    std::vector<ProxyVariant> m_variants;
    std::vector<int> m_blocks;      // raw block outputs kept (@BLOCK)
    std::vector<int> m_normBlocks;  // blocks kept through the final LayerNorm (@heads)
    // Task t's features under variant v from an encoder's layer features.
    at::Tensor variantFeatures(const LayerFeatures& f, const ProxyVariant& v, std::size_t task) const;
    std::string m_cacheDir;
    std::vector<LayerFeatures> m_expert;  // per task, on the task's probe set
    std::vector<at::Tensor> m_baseImage;  // per task: the base's mean token cosine to the expert, image by image [N] (float64)
    std::vector<model::ParamMap> m_taskVectors;  // per task, for weight-space alignment
    ProxyScores m_baseAlignment;
    int m_cacheHits = 0;
};

}  // namespace ms::core::proxy
