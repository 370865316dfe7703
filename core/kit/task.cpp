#include "core/kit/task.h"

#include "core/errors.h"

namespace ms::core::kit {

namespace {
constexpr TaskType kTypes[] = {TaskType::Classification, TaskType::Segmentation, TaskType::Regression, TaskType::Depth, TaskType::Normals};
}  // namespace

std::string taskTypeName(TaskType t) {
    switch (t) {
        case TaskType::Classification: return "classification";
        case TaskType::Segmentation: return "segmentation";
        case TaskType::Regression: return "regression";
        case TaskType::Depth: return "depth";
        case TaskType::Normals: return "normals";
    }
    return "?";
}

TaskType parseTaskType(const std::string& name) {
    std::string all;
    for (TaskType t : kTypes) {
        if (taskTypeName(t) == name) return t;
        all += (all.empty() ? "" : ", ") + taskTypeName(t);
    }
    throw InvalidArgument("unknown task type '" + name + "' (" + all + ")");
}

const std::vector<kit::Metric>& metricsOf(TaskType t) {
    using M = kit::Metric;
    static const std::vector<M> classification = {M::Accuracy}, segmentation = {M::MeanIoU, M::PixelAccuracy}, regression = {M::Rmse},
                                depth = {M::AbsError, M::RelError, M::Rmse, M::Delta1},
                                normals = {M::MeanAngle, M::MedianAngle, M::Within11, M::Within22, M::Within30};
    switch (t) {
        case TaskType::Segmentation: return segmentation;
        case TaskType::Regression: return regression;
        case TaskType::Depth: return depth;
        case TaskType::Normals: return normals;
        default: return classification;
    }
}

kit::Metric defaultMetric(TaskType t) { return metricsOf(t).front(); }

bool isDense(TaskType t) { return t != TaskType::Classification; }
bool predictsValues(TaskType t) { return t == TaskType::Regression || t == TaskType::Depth || t == TaskType::Normals; }
int valueChannels(TaskType t) { return t == TaskType::Normals ? 3 : predictsValues(t) ? 1 : 0; }

}  // namespace ms::core::kit
