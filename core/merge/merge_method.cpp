#include "core/merge/merge_method.h"

namespace ms::core::merge {

std::shared_ptr<const PreparedState> MergeMethod::prepare(const MergeProblem&, const MethodArgs&,
                                                          ProgressSink&, const CancelToken*) const {
    return nullptr;
}

ParamSpec numberParam(const std::string& name, double def, double min, double max, const std::string& help,
                      bool perModel, bool affectsPrepare) {
    ParamSpec p;
    p.name = name;
    p.kind = ParamKind::Number;
    p.defaultNumber = def;
    p.min = min;
    p.max = max;
    p.help = help;
    p.perModel = perModel;
    p.affectsPrepare = affectsPrepare;
    return p;
}

ParamSpec integerParam(const std::string& name, double def, double min, double max, const std::string& help,
                       bool affectsPrepare) {
    ParamSpec p = numberParam(name, def, min, max, help, false, affectsPrepare);
    p.kind = ParamKind::Integer;
    return p;
}

ParamSpec choiceParam(const std::string& name, const std::string& def, std::vector<std::string> choices,
                      const std::string& help, bool affectsPrepare) {
    ParamSpec p;
    p.name = name;
    p.kind = ParamKind::Choice;
    p.defaultChoice = def;
    p.choices = std::move(choices);
    p.help = help;
    p.affectsPrepare = affectsPrepare;
    return p;
}

ParamSpec lambdaParam() {
    ParamSpec p = numberParam("lambda", 1.0, -10, 10, "global scale λ of the merged task vector (negative values negate tasks)");
    p.perTensor = true;  // resolved per tensor by the engine (Coefficients::lambda)
    return p;
}

ParamSpec weightParam() {
    ParamSpec p = numberParam("weight", 1.0, -10, 10, "per-model weight w_t", true);
    p.perTensor = true;  // resolved per tensor by the engine (Coefficients::weights)
    return p;
}

ParamSpec densityParam(double def, bool affectsPrepare, const std::string& help) {
    return numberParam("density", def, 1e-6, 1, help, true, affectsPrepare);
}

ParamSpec topkScopeParam() {
    return choiceParam("topk_scope", "global", {"global", "per_tensor"},
                       "top-k over the whole flattened task vector (official TIES code) or per tensor (mergekit)", true);
}

ParamSpec disjointParam(const std::string& def) {
    return choiceParam("disjoint", def, {"mean", "sum"},
                       "combine the task vectors that agree with the elected sign by their (weighted) mean or sum");
}

ParamSpec seedParam(bool affectsPrepare) {
    return integerParam("seed", 0, 0, 4294967295.0, "seed of the random drop masks (results are reproducible from it)",
                        affectsPrepare);
}

}  // namespace ms::core::merge
