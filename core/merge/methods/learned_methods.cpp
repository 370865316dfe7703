// Methods that learn the merge from a kit's unlabelled data (METHODS.md, "Data-driven merging").
// They run like every other method: `prepare` learns (through the kit the engine was given,
// merge::KitContext, implemented on LibTorch in core/learned) and keeps the learned tensors;
// `apply` copies them out. Every parameter affects the preparation, so changing any of them
// learns again, and equal parameters reuse what was learned.
//   adamerging  θ = θ0 + Σ_t λ_t(,k) τ_t, coefficients learned by entropy minimisation
//   calm        consensus-aware localized merging: learned binary masks, one task at a time
#include <cstring>

#include "core/errors.h"
#include "core/merge/kit_context.h"
#include "core/merge/method_registry.h"
#include "core/merge/methods/methods.h"

namespace ms::core::merge {

namespace {

struct LearnedPrepared final : PreparedState {
    std::vector<std::vector<float>> values;  // per merged tensor, in plan order
    Artifacts learnedArtifacts;
    std::string summary;
    const Artifacts* artifacts() const override { return &learnedArtifacts; }
    std::string summaryJson() const override { return summary; }
};

class LearnedMerge final : public MergeMethod {
public:
    explicit LearnedMerge(MethodInfo info) : m_info(std::move(info)) {
        m_info.needsKit = true;
        for (auto& p : m_info.params) p.affectsPrepare = true;
    }
    const MethodInfo& info() const override { return m_info; }

    std::shared_ptr<const PreparedState> prepare(const MergeProblem& problem, const MethodArgs& args, ProgressSink& progress,
                                                 const CancelToken* cancel) const override {
        if (!problem.kit()) throw InvalidArgument(needsKitMessage(m_info.name));
        LearnedWeights learned = problem.kit()->learn(m_info, args, progress, cancel);
        auto p = std::make_shared<LearnedPrepared>();
        for (const auto& t : problem.plan().merged) {
            auto it = learned.tensors.find(t.name);
            if (it == learned.tensors.end())
                throw MismatchError(m_info.name + " learned no values for tensor '" + t.name + "' of the base (kit " +
                                    problem.kit()->kitDir() + ")");
            if (it->second.size() != t.numel)
                throw MismatchError(m_info.name + " learned " + std::to_string(it->second.size()) + " values for tensor '" +
                                    t.name + "', which has " + std::to_string(t.numel));
            p->values.push_back(std::move(it->second));
        }
        p->learnedArtifacts = std::move(learned.artifacts);
        p->summary = std::move(learned.summaryJson);
        return p;
    }

    void apply(const MergeProblem& problem, const PreparedState* prepared, const MethodArgs&, const Coefficients&,
               const ChunkView& c, float* out) const override {
        const auto& values = static_cast<const LearnedPrepared*>(prepared)->values[problem.indexOf(c)];
        std::memcpy(out, values.data() + c.begin, c.n * sizeof(float));
    }

private:
    MethodInfo m_info;
};

}  // namespace

std::string needsKitMessage(const std::string& method) {
    return method + " learns the merge from a kit's data and heads: give --kit (merge, sweep) or use the workbench";
}

void addLearnedMethods(std::vector<std::unique_ptr<MergeMethod>>& out) {
    MethodInfo ada;
    ada.name = "adamerging";
    ada.summary = "θ0 + Σ λ_t τ_t with λ learned per task (and per tensor) by minimising prediction entropy on "
                  "unlabelled images (Yang et al. 2024); needs a kit";
    ada.params = {choiceParam("granularity", "layer", {"layer", "task"}, "one coefficient per task per tensor, or per task"),
                  choiceParam("vectors", "ta", {"ta", "ties"},
                              "task vectors as they are, or TIES-processed (trim, elect, disjoint: AdaMerging++)"),
                  densityParam(0.2, true, "TIES top-k fraction (vectors=ties)"),
                  integerParam("steps", 500, 0, 100000, "Adam steps"),
                  numberParam("lr", 1e-3, 1e-6, 1.0, "Adam learning rate"),
                  integerParam("batch", 16, 1, 4096, "images per batch"),
                  integerParam("batches", 2, 1, 64, "batches per task per step"),
                  numberParam("init", 0.3, 0.0, 1.0, "initial coefficient"),
                  seedParam(true)};
    ada.learns = LearnedAlgorithm::EntropyCoefficients;
    ada.artifacts = {{"loss", ArtifactSpec::Kind::Curve, "loss per step", "Σ entropy", false},
                     {"coefficients", ArtifactSpec::Kind::Matrix, "learned coefficient λ per task and tensor", "λ", false}};
    out.push_back(std::make_unique<LearnedMerge>(ada));

    MethodInfo calm;
    calm.name = "calm";
    calm.summary = "consensus-aware localized merging: binary masks learned one task at a time on pseudo-labels "
                   "(ICML 2025); needs a kit";
    calm.params = {numberParam("ratio", 0.9, 0.01, 1.0, "share of each pseudo-class kept, lowest prediction entropy first"),
                   integerParam("first_group", 2, 1, 64, "tasks merged first by task arithmetic"),
                   numberParam("first_lambda", 0.3, 0.0, 2.0, "task arithmetic λ of the first group"),
                   choiceParam("order", "cosine", {"cosine", "kit"},
                               "after the first group: the remaining task with the lowest task-vector cosine to the "
                               "running merge next, or the kit's order"),
                   integerParam("steps", 100, 0, 100000, "mask updates per added task"),
                   integerParam("batch", 128, 1, 4096, "images per batch"),
                   integerParam("batches", 2, 1, 64, "batches per task seen per update"),
                   numberParam("lr", 0.1, 1e-6, 10.0, "Adam learning rate of the mask logits"),
                   numberParam("top", 1e-5, 0.0, 1.0, "fraction of the new task vector (largest |τ|) whose mask starts on"),
                   numberParam("sparsity", 1e-3, 0.0, 10.0, "weight of the mean mask value in the loss"),
                   seedParam(true)};
    calm.learns = LearnedAlgorithm::ConsensusMasks;
    calm.artifacts = {{"loss", ArtifactSpec::Kind::Curve, "loss per step", "pseudo-label loss", true},
                      {"mask_density", ArtifactSpec::Kind::Matrix, "mask density per added task and block", "mask density", false}};
    out.push_back(std::make_unique<LearnedMerge>(calm));

    for (const bool plus : {false, true}) {
        MethodInfo rm;
        rm.name = plus ? "regmean_plus" : "regmean";
        rm.summary = plus ? "RegMean++: RegMean block by block, each expert's Gram matrices taken on the merged model's own "
                            "activations (Nguyen et al. 2025); needs a kit"
                          : "per linear layer W = (Σ G_t)⁻¹ Σ G_t W_t with G_t the Gram matrix of its inputs in expert t on "
                            "its task's images; the rest averaged (Jin et al. 2023); needs a kit";
        rm.params = {numberParam("alpha", 0.9, 0.0, 1.0, "off-diagonal scale of the Gram matrices (reduce_non_diagonal_ratio)"),
                     integerParam("examples", 256, 1, 1000000, "images per task for the statistics"),
                     integerParam("batch", 32, 1, 4096, "images per forward")};
        rm.learns = plus ? LearnedAlgorithm::RegMeanPlus : LearnedAlgorithm::RegMean;
        out.push_back(std::make_unique<LearnedMerge>(rm));
    }
    MethodInfo fisher;
    fisher.name = "fisher";
    fisher.summary = "per parameter, the experts weighted by their diagonal Fisher information on their tasks' images "
                     "(Matena & Raffel 2022); needs a kit";
    fisher.params = {integerParam("examples", 256, 1, 1000000, "images per task for the Fisher"),
                     integerParam("batch", 32, 1, 4096, "images per gradient (FusionBench's batch-level Fisher)"),
                     choiceParam("normalize", "true", {"true", "false"}, "weigh each expert by 1/‖F_t‖ (normalize_fisher_weight)"),
                     numberParam("minimal", 1e-6, 0.0, 1.0, "added to every Fisher value (minimal_fisher_weight)"),
                     seedParam(true)};
    fisher.learns = LearnedAlgorithm::Fisher;
    out.push_back(std::make_unique<LearnedMerge>(fisher));
}

}  // namespace ms::core::merge
