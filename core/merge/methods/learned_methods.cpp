// Methods that learn the merge from a kit's unlabelled data (METHODS.md, "Data-driven merging"):
// their parameters are declared here, with the others, so recipes, the CLI and the GUI know them;
// the learning itself runs on encoders in core/learned (LibTorch) and needs a kit — it is not a
// prepare/apply over weights alone.
//   adamerging  θ = θ0 + Σ_t λ_t(,k) τ_t, coefficients learned by entropy minimisation
//   calm        consensus-aware localized merging: learned binary masks, one task at a time
#include "core/errors.h"
#include "core/merge/methods/methods.h"

namespace ms::core::merge {

namespace {

class LearnedMerge final : public MergeMethod {
public:
    explicit LearnedMerge(MethodInfo info) : m_info(std::move(info)) { m_info.learned = true; }
    const MethodInfo& info() const override { return m_info; }
    std::shared_ptr<const PreparedState> prepare(const MergeProblem&, const MethodArgs&, ProgressSink&,
                                                 const CancelToken*) const override {
        throw InvalidArgument(m_info.name + " learns the merge from a kit's data and heads: run it with --kit "
                                            "(merge, sweep) or from the workbench");
    }
    void apply(const MergeProblem&, const PreparedState*, const MethodArgs&, const Coefficients&, const ChunkView&,
               float*) const override {
        throw InvalidArgument(m_info.name + " needs a kit");
    }

private:
    MethodInfo m_info;
};

}  // namespace

void addLearnedMethods(std::vector<std::unique_ptr<MergeMethod>>& out) {
    MethodInfo ada;
    ada.name = "adamerging";
    ada.summary = "θ0 + Σ λ_t τ_t with λ learned per task (and per tensor) by minimising prediction entropy on "
                  "unlabelled images (Yang et al. 2024); needs a kit";
    ada.params = {choiceParam("granularity", "layer", {"layer", "task"}, "one coefficient per task per tensor, or per task"),
                  choiceParam("vectors", "ta", {"ta", "ties"},
                              "task vectors as they are, or TIES-processed (trim, elect, disjoint: AdaMerging++)"),
                  densityParam(0.2, false, "TIES top-k fraction (vectors=ties)"),
                  integerParam("steps", 500, 0, 100000, "Adam steps"),
                  numberParam("lr", 1e-3, 1e-6, 1.0, "Adam learning rate"),
                  integerParam("batch", 16, 1, 4096, "images per batch"),
                  integerParam("batches", 2, 1, 64, "batches per task per step"),
                  numberParam("init", 0.3, 0.0, 1.0, "initial coefficient"),
                  seedParam(false)};
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
                   seedParam(false)};
    out.push_back(std::make_unique<LearnedMerge>(calm));
}

}  // namespace ms::core::merge
