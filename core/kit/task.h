// What a kit's task is, as plain values (no torch): its name, the data set its images come from
// (tasks on one data set share probe and eval images), its type, metric and output count. The
// demo's tasks and a user kit's tasks are both this.
#pragma once

#include <string>
#include <vector>

#include "core/kit/metrics.h"

namespace ms::core::kit {

// classification: a class per image; segmentation: a class per pixel (ignored pixels allowed);
// regression: a value per pixel; depth: a value per pixel with invalid pixels; normals: a unit
// 3-vector per pixel with invalid pixels.
enum class TaskType { Classification, Segmentation, Regression, Depth, Normals };

std::string taskTypeName(TaskType t);     // classification, segmentation, regression, depth, normals
TaskType parseTaskType(const std::string& name);  // throws InvalidArgument listing the types
// The primary metric by default: accuracy, miou, rmse, abs_error, mean_angle.
kit::Metric defaultMetric(TaskType t);
// Every metric a task of this type reports (the primary among them).
const std::vector<kit::Metric>& metricsOf(TaskType t);
bool isDense(TaskType t);       // a prediction per pixel
bool predictsValues(TaskType t);  // regression, depth, normals (not classes)
int valueChannels(TaskType t);  // 1, or 3 for normals (0 for class tasks)

struct Task {
    std::string name;
    std::string dataset;  // a key: tasks with the same key share image sets
    TaskType type = TaskType::Classification;
    kit::Metric metric = kit::Metric::Accuracy;
    int outputs = 0;  // classes, or channels of a dense output
};

}  // namespace ms::core::kit
