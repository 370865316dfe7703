#include "core/learned/suite_kit_context.h"

#include <optional>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/learned/learned_merge.h"
#include "core/model/encoder_weights.h"
#include "core/model/vit_layouts.h"

namespace ms::core::learned {

merge::LearnedWeights SuiteKitContext::learn(const merge::MethodInfo& method, const merge::MethodArgs& args,
                                             ProgressSink& progress, const CancelToken* cancel) const {
    LearnedResult r = runLearnedMerge(m_suite, method, args, progress, cancel);
    merge::LearnedWeights out;
    // Learned on the canonical encoder; the engine merges under the base file's names.
    const auto& kit = m_suite.kit;
    const model::ParamMap named =
        kit.layout.empty() || (kit.layout == "timm" && kit.basePrefix.empty())
            ? r.merged
            : model::toFileNames(r.merged, {model::parseLayout(kit.layout), kit.basePrefix}, m_suite.config());
    for (const auto& [name, t] : named) {
        const at::Tensor c = t.detach().to(at::kFloat).contiguous();
        const float* p = c.data_ptr<float>();
        out.tensors.emplace(name, std::vector<float>(p, p + c.numel()));
    }
    const LearnedArtifacts& a = r.artifacts;
    // Under the keys the method declares: its curve, then its matrix (RegMean and Fisher declare
    // none: they learn nothing step by step).
    const auto declared = [&](merge::ArtifactSpec::Kind kind) -> std::optional<std::string> {
        for (const auto& s : method.artifacts)
            if (s.kind == kind) return s.key;
        return std::nullopt;
    };
    if (const auto key = declared(merge::ArtifactSpec::Kind::Curve)) out.artifacts[*key] = {a.loss, {a.loss.size()}, {}, {}};
    if (const auto key = declared(merge::ArtifactSpec::Kind::Matrix)) {
        merge::Artifact m;
        for (const auto& row : a.matrix) m.values.insert(m.values.end(), row.begin(), row.end());
        m.shape = {a.matrix.size(), a.matrix.empty() ? 0 : a.matrix.front().size()};
        m.rows = a.rows;
        m.columns = a.columns;
        out.artifacts[*key] = std::move(m);
    }
    out.summaryJson = nlohmann::json{{"loss_first", a.loss.empty() ? 0.0 : a.loss.front()},
                                     {"loss_last", a.loss.empty() ? 0.0 : a.loss.back()},
                                     {"rows", a.rows},
                                     {"columns", a.columns},
                                     {"matrix", a.matrix}}
                          .dump();
    return out;
}

}  // namespace ms::core::learned
