// A merge described as plain values: inputs, method, parameters, per-tensor control, output
// dtype. Built by the CLI, loaded from / saved to YAML recipes, edited by the GUI.
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

struct ModelRef {
    std::string path;
    std::string task;    // task name; default: the file's stem
    ParamValues params;  // per-model parameters (weight, density, ...)
};

struct MergeSpec {
    std::string method = "task_arithmetic";
    std::string base;
    std::vector<ModelRef> models;
    ParamValues params;
    LambdaSchedule lambda;
    TensorFilter filter;
    std::optional<io::DType> dtype;  // merged tensors' output dtype; default: the base's
    io::OpenOptions open;

    std::vector<std::string> taskNames() const;
    std::vector<ParamValues> perModelParams() const;
};

}  // namespace ms::core::merge
