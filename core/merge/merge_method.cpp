#include "core/merge/merge_method.h"

namespace ms::core::merge {

std::shared_ptr<const PreparedState> MergeMethod::prepare(const MergeProblem&, const MethodArgs&,
                                                          ProgressSink&, const CancelToken*) const {
    return nullptr;
}

ParamSpec lambdaParam() {
    ParamSpec p;
    p.name = "lambda";
    p.defaultNumber = 1.0;
    p.min = -10;
    p.max = 10;
    p.help = "global scale λ of the merged task vector (negative values negate tasks)";
    return p;
}

ParamSpec weightParam() {
    ParamSpec p;
    p.name = "weight";
    p.defaultNumber = 1.0;
    p.min = -10;
    p.max = 10;
    p.perModel = true;
    p.help = "per-model weight w_t";
    return p;
}

ParamSpec densityParam(double def, bool affectsPrepare, const std::string& help) {
    ParamSpec p;
    p.name = "density";
    p.defaultNumber = def;
    p.min = 1e-6;
    p.max = 1;
    p.perModel = true;
    p.affectsPrepare = affectsPrepare;
    p.help = help;
    return p;
}

ParamSpec topkScopeParam() {
    ParamSpec p;
    p.name = "topk_scope";
    p.kind = ParamKind::Choice;
    p.defaultChoice = "global";
    p.choices = {"global", "per_tensor"};
    p.affectsPrepare = true;
    p.help = "top-k over the whole flattened task vector (official TIES code) or per tensor (mergekit)";
    return p;
}

ParamSpec disjointParam(const std::string& def) {
    ParamSpec p;
    p.name = "disjoint";
    p.kind = ParamKind::Choice;
    p.defaultChoice = def;
    p.choices = {"mean", "sum"};
    p.help = "combine the task vectors that agree with the elected sign by their (weighted) mean or sum";
    return p;
}

ParamSpec seedParam(bool affectsPrepare) {
    ParamSpec p;
    p.name = "seed";
    p.kind = ParamKind::Integer;
    p.defaultNumber = 0;
    p.min = 0;
    p.max = 4294967295.0;
    p.affectsPrepare = affectsPrepare;
    p.help = "seed of the random drop masks (results are reproducible from it)";
    return p;
}

}  // namespace ms::core::merge
