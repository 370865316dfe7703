// What a merge method declares about itself: its parameters (name, kind, range, default, help)
// and its shape (one model or one per task, which knobs it uses). The CLI's help, recipes and
// the GUI's controls are generated from these declarations.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "core/merge/merge_artifact.h"

namespace ms::core::merge {

enum class ParamKind { Number, Integer, Choice };

struct ParamSpec {
    std::string name;
    ParamKind kind = ParamKind::Number;
    double defaultNumber = 0;
    std::string defaultChoice;
    double min = 0;
    double max = 1;
    std::vector<std::string> choices;
    std::string help;
    bool perModel = false;       // may be set per model (recipes: models[i].parameters)
    bool affectsPrepare = false;  // changing it redoes the λ-independent preparation
    // The method reads it tensor by tensor (MethodArgs::numberFor), so a recipe's filter list or
    // gradient can vary it; every other parameter takes one value (per model) for the whole merge.
    bool perTensor = false;
};

enum class LearnedAlgorithm {
    None,
    EntropyCoefficients,  // AdaMerging: merge coefficients learned by entropy minimisation
    ConsensusMasks,       // CALM: binary masks learned one task at a time on pseudo-labels
    RegMean,              // RegMean: linear layers from their inputs' Gram matrices, per expert on its task
    RegMeanPlus,          // RegMean++: the same, block by block on the merged model's own activations
    Fisher,               // Fisher merging: per parameter, weighted by each expert's diagonal Fisher
};

struct MethodInfo {
    std::string name;
    std::string summary;
    std::vector<ParamSpec> params;
    // Capabilities, declared by each method and checked when a merge is set up:
    bool perTaskOutputs = false;  // tall_masks, emr: one merged model per task
    bool linearInLambda = false;  // θ = θ0 + λ·M(weights, other knobs): a change of λ alone costs one pass
    bool needsKit = false;        // adamerging, calm: prepare learns from a kit's data (merge::KitContext)
    // What a method that learns runs on the kit (the algorithm it owns; core/learned implements
    // them), declared here so that nothing else picks an algorithm by the method's name.
    LearnedAlgorithm learns = LearnedAlgorithm::None;
    // The arrays a point of this method keeps beside its scores (store::PointRecord::artifacts):
    // plots and reports read these declarations, never a guess from the keys present.
    std::vector<ArtifactSpec> artifacts;
    int minModels = 1;
    int maxModels = 1 << 20;

    const ParamSpec* find(const std::string& param) const;
    bool has(const std::string& param) const { return find(param) != nullptr; }
};

using ParamValue = std::variant<double, std::string>;
std::string paramValueText(const ParamValue& v);

}  // namespace ms::core::merge
