#include "core/kit/task.h"

#include "core/errors.h"

namespace ms::core::kit {

std::string taskTypeName(TaskType t) {
    switch (t) {
        case TaskType::Classification: return "classification";
        case TaskType::Segmentation: return "segmentation";
        case TaskType::Regression: return "regression";
    }
    return "?";
}

TaskType parseTaskType(const std::string& name) {
    for (TaskType t : {TaskType::Classification, TaskType::Segmentation, TaskType::Regression})
        if (taskTypeName(t) == name) return t;
    throw InvalidArgument("unknown task type '" + name + "' (classification, segmentation, regression)");
}

eval::Metric defaultMetric(TaskType t) {
    switch (t) {
        case TaskType::Classification: return eval::Metric::Accuracy;
        case TaskType::Segmentation: return eval::Metric::MeanIoU;
        case TaskType::Regression: return eval::Metric::Rmse;
    }
    return eval::Metric::Accuracy;
}

}  // namespace ms::core::kit
