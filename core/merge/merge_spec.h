// The one value that decides a merged model: inputs (with their content hashes once known),
// method, every parameter (numbers and choices together, global and per model), the per-tensor
// λ control, the tensor filter and the output dtype. The CLI's flags, a recipe, the workbench's
// Strategy panel and a sweep point all become one of these; every save path consumes one.
// Two forms on disk, both lossless: the canonical JSON below (machine form: sweep specs,
// mergescope.spec in merged files) and the YAML recipe (human form, core/merge/recipe.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/io/dtype.h"
#include "core/io/source_factory.h"
#include "core/merge/lambda_schedule.h"
#include "core/merge/method_args.h"
#include "core/merge/tensor_plan.h"

namespace ms::core::merge {

// Version of the provenance keys a merged file's metadata carries (docs/merging.md).
inline constexpr int kProvenanceVersion = 1;

struct ModelRef {
    std::string path;
    std::string task;    // task name; default: the file's stem
    ParamValues params;  // per-model parameters (weight, density, ...)
    std::string hash;    // xxh128 of the file when known (kits, experiments); "" otherwise
};

struct MergeSpec {
    std::string method = "task_arithmetic";
    std::string base;
    std::string baseHash;  // xxh128 when known
    std::vector<ModelRef> models;
    ParamValues params;
    LambdaSchedule lambda;
    // Per-tensor values of numeric parameters (mergekit's `filter:` lists and gradients), on top
    // of `params` and the models' params; λ's block curve and overrides still apply after them.
    std::vector<TensorRule> rules;
    TensorFilter filter;
    std::optional<io::DType> dtype;  // merged tensors' output dtype; default: the base's
    std::optional<io::DType> computeDtype;  // inputs rounded to it first (mergekit's `dtype`); default: as stored
    io::OpenOptions open;

    std::vector<std::string> taskNames() const;
    std::vector<ParamValues> perModelParams() const;
    // Index of the model of task `task`, or -1.
    int modelIndex(const std::string& task) const;
    // Sets a parameter globally (task "") or for one task's model; InvalidArgument for an unknown task.
    void set(const std::string& param, const ParamValue& value, const std::string& task = "");
};

// The CLI's --set, parsed in one place: each "key=value" sets a parameter for every model, each
// "key=v1,v2,..." one value per model in order (InvalidArgument naming the assignment).
void applyAssignments(MergeSpec& spec, const std::vector<std::string>& assignments);

// The spec's parameters validated against its method, its rules installed.
MethodArgs methodArgsFor(const MergeSpec& spec, const MethodInfo& info);

// Canonical JSON (numbers round-trip exactly) and back; fromJson throws InvalidArgument naming
// `source` for anything malformed. Parameters are not validated here (MethodArgs does that).
std::string toJson(const MergeSpec& spec);
MergeSpec mergeSpecFromJson(const std::string& json, const std::string& source = "merge spec");

// The spec with its parameters validated against the method (InvalidArgument naming the
// parameter) and normalised: numbers as numbers ("0.2" from a command line becomes 0.2), choices
// as strings. Specs are stored and compared in this form.
MergeSpec canonical(const MergeSpec& spec);

// The same settings: equal canonical JSON.
bool sameSettings(const MergeSpec& a, const MergeSpec& b);

}  // namespace ms::core::merge
