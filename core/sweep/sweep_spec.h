// What a sweep explores, as plain values, and the points it expands to:
//   axes      --grid 'lambda=0:1.5:16' (16 evenly spaced values, both ends included),
//             'density=0.1,0.2,0.4' (a list), 'weight[fashion-seg]=0:1:5' (a per-task parameter);
//             several axes form their Cartesian product (the last axis varies fastest);
//   sampling  --task-weights random:N[:lo:hi] or lhs:N[:lo:hi]: N seeded samples of one weight per
//             task (uniform, or a Latin hypercube), crossed with the axes;
//   no axes and no sampling: a single point, the method at its given settings.
// Relations sweeps (SIMO): θ0 + λ τ_t for each task t — columns "task" (index) and "lambda".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/merge/merge_spec.h"

namespace ms::core::sweep {

enum class SweepKind { Merge, Relations };
// The names the file and the reports use: "merge", "relations".
const char* sweepKindName(SweepKind k);
// FormatError naming `source` for an unknown name.
SweepKind parseSweepKind(const std::string& name, const std::string& source);

// A file a sweep merges, as an experiment records it (store::Experiment::inputs) and a kit
// binds it (KitBinding).
struct InputRecord {
    std::string role;  // "base" or "expert"
    std::string task;  // expert's task ("" for the base)
    std::string path;
    std::string hash;  // xxh128 of the file
};

struct GridAxis {
    std::string param;  // method parameter ("lambda", "density", "weight", ...)
    std::string task;   // set only for that task's model ("" = global)
    std::vector<double> values;
    std::string label() const;  // "lambda", "weight[fashion-seg]"
};

struct TaskSampling {
    enum class Kind { None, Random, LatinHypercube };
    Kind kind = Kind::None;
    int count = 0;
    double lo = 0, hi = 1;
    std::string param = "weight";
};

struct SweepSpec {
    SweepKind kind = SweepKind::Merge;
    // The method and its fixed settings (numbers and choices, per-task values, λ curve, filter).
    // `merge.models` names the kit's tasks in order, or is empty (= every task, no per-task value);
    // the sweep runner binds base and models to the kit's files and hashes. Relations sweeps use
    // task arithmetic and ignore the rest.
    merge::MergeSpec merge;
    std::vector<GridAxis> axes;
    TaskSampling sampling;
    std::uint64_t seed = 0;

    std::string toJson() const;
    // Reads this form, and the schema-1 form of older experiment files ("method", "sets" as
    // key=value strings, "lambda_blocks").
    static SweepSpec fromJson(const std::string& json);
};

// Throws InvalidArgument with an example of the accepted form.
GridAxis parseGridAxis(const std::string& text);

// A relations sweep (SIMO: θ0 + λ τ_t, one task t at a time, every task scored) over the λ axis:
// task vectors added by task arithmetic, by definition. The one place that names its method.
inline constexpr const char* kRelationsMethod = "task_arithmetic";
SweepSpec relationsSweep(GridAxis lambda);
TaskSampling parseTaskSampling(const std::string& text);

struct SweepPlan {
    std::vector<std::string> paramNames;       // one column per axis, then one per sampled task
    std::vector<std::vector<double>> points;   // rows of values, in paramNames order
};

// Checks axis tasks against `tasks`. Relations specs need exactly one axis, "lambda".
SweepPlan planSweep(const SweepSpec& spec, const std::vector<std::string>& tasks);

// One of N shards of a sweep (sweep --shard I/N): a contiguous block of the plan, so points that
// share a prepared state (outer axes) stay together. Every point is in exactly one shard.
struct Shard {
    int index = 1, count = 1;  // index counts from 1
    bool whole() const { return count <= 1; }
    std::string text() const;  // "2/4"; "" for the whole sweep
};
// "I/N" with 1 ≤ I ≤ N; InvalidArgument otherwise.
Shard parseShard(const std::string& text);
// The plan indices of `shard` among `points` points: [⌊(I−1)P/N⌋, ⌊IP/N⌋). InvalidArgument when
// N exceeds the points (a shard would be empty).
std::vector<std::size_t> shardPoints(std::size_t points, const Shard& shard);

// Splits a column label "weight[task]" into ("weight", "task"); "lambda" into ("lambda", "").
std::pair<std::string, std::string> splitLabel(const std::string& label);

}  // namespace ms::core::sweep
