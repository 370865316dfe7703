// The parameter values of one merge, validated against the method's declarations: global values,
// per-model values, and defaults. Lookup order for a per-model parameter: the model's own value,
// then the global value, then the declared default.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/merge/method_info.h"

namespace ms::core::merge {

using ParamValues = std::map<std::string, ParamValue>;

// A per-tensor value of a numeric parameter, as mergekit's recipes write them: `filter` a
// substring of the tensor's name ("" or "*": every tensor), `values` one value or a gradient over
// the tensor's relative depth (PlannedTensor::depth, interpolated as mergekit's evaluate_setting).
// A parameter's rules are tried in order, the model's own first, then the top-level ones; the
// first rule whose filter matches gives the value; no match falls back to the plain value.
struct TensorRule {
    std::string param;
    int model = -1;  // -1: the top-level parameters (every model)
    std::string filter;
    std::vector<double> values;
    bool operator==(const TensorRule&) const = default;
};
// The value of a gradient (or a single value) at relative depth t ∈ [0, 1].
double gradientAt(const std::vector<double>& values, double t);

class MethodArgs {
public:
    MethodArgs() = default;
    // Throws InvalidArgument naming the parameter: unknown name (listing the valid ones), wrong
    // kind, out of range, a per-model value for a global-only parameter.
    MethodArgs(const MethodInfo& info, ParamValues global, std::vector<ParamValues> perModel,
               std::size_t modelCount);

    double number(const std::string& name, int model = -1) const;
    // The value for one tensor: the rules (model's, then top-level), else number(name, model).
    double numberFor(const std::string& name, int model, const std::string& tensor, double depth) const;
    // Installs per-tensor rules (validated: a numeric parameter of the method, a per-model one
    // when the rule names a model, every value in range, a model index that exists).
    void setRules(std::vector<TensorRule> rules);
    const std::vector<TensorRule>& rules() const { return m_rules; }
    bool hasRules(const std::string& name) const;
    // The rules of one parameter as text (for keys that must change when they do).
    std::string rulesText(const std::string& name) const;
    std::string choice(const std::string& name) const;
    std::vector<double> perModelNumbers(const std::string& name) const;
    std::size_t modelCount() const { return m_modelCount; }
    const ParamValues& global() const { return m_global; }
    const std::vector<ParamValues>& perModel() const { return m_perModel; }

    // A key over the values of parameters that affect preparation: equal keys → the prepared
    // state can be reused.
    std::string prepareKey() const;

private:
    const ParamSpec& spec(const std::string& name) const;
    const MethodInfo* m_info = nullptr;
    ParamValues m_global;
    std::vector<ParamValues> m_perModel;
    std::vector<TensorRule> m_rules;
    std::size_t m_modelCount = 0;
};

// Parses "key=value" as the CLI's --set takes it; a comma list ("0.3,0.7") sets the value per model.
void parseAssignment(const std::string& text, ParamValues& global, std::vector<ParamValues>& perModel,
                     std::size_t modelCount);

}  // namespace ms::core::merge
