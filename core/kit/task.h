// What a kit's task is, as plain values (no torch): its name, the data set its images come from
// (tasks on one data set share probe and eval images), its type, metric and output count. The
// demo's tasks and a user kit's tasks are both this.
#pragma once

#include <string>

#include "core/kit/metrics.h"

namespace ms::core::kit {

enum class TaskType { Classification, Segmentation, Regression };

std::string taskTypeName(TaskType t);     // classification, segmentation, regression
TaskType parseTaskType(const std::string& name);  // throws InvalidArgument listing the types
// accuracy for classification, miou for segmentation, rmse for regression.
kit::Metric defaultMetric(TaskType t);

struct Task {
    std::string name;
    std::string dataset;  // a key: tasks with the same key share image sets
    TaskType type = TaskType::Classification;
    kit::Metric metric = kit::Metric::Accuracy;
    int outputs = 0;  // classes, or channels of a dense output
};

}  // namespace ms::core::kit
