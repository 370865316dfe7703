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

kit::Metric defaultMetric(TaskType t) {
    switch (t) {
        case TaskType::Classification: return kit::Metric::Accuracy;
        case TaskType::Segmentation: return kit::Metric::MeanIoU;
        case TaskType::Regression: return kit::Metric::Rmse;
    }
    return kit::Metric::Accuracy;
}

}  // namespace ms::core::kit
