// One point of a sweep as the merge settings it stands for: the sweep's fixed MergeSpec with the
// point's swept values applied. The sweep runner scores exactly this spec, and `merge
// --experiment` and the workbench's "Save merged model" re-make a point from it, so a saved point
// is the scored one. Points are numbered from 1 in the sweep's plan order (planSweep: grids with
// the last axis fastest, then samples), whatever order they were computed in; `report` prints
// these numbers.
#pragma once

#include <string>
#include <vector>

#include "core/merge/merge_spec.h"
#include "core/sweep/sweep_spec.h"

namespace ms::core::sweep {

// Sets base and models of `spec` to the experiment's inputs (role "base", then the "expert"s in
// order) with their hashes. Models already named by task are matched by name, unnamed ones by
// position; the result lists them in the inputs' order. InvalidArgument when they do not fit.
void bindToInputs(merge::MergeSpec& spec, const std::vector<InputRecord>& inputs);

// A kit as merge inputs — the one binding that sweeps, relations, `merge --kit`, learned methods
// and the workbench use: the kit's files with their hashes (base first, then one expert per task,
// as an experiment records them) and the prefix under which the base keeps its encoder ("": none).
// session::kitBinding makes one from a loaded suite or from a kit path.
struct KitBinding {
    std::vector<InputRecord> inputs;
    std::string basePrefix;
    std::vector<std::string> pickleAllow;  // the kit's pickle_allow: how its PyTorch files are opened
};
// bindToInputs, and when the base keeps its encoder under a prefix (a CLIPModel's vision_model.)
// merges only that part: the rest (text tower, projection) is copied from the base.
void bindToKit(merge::MergeSpec& spec, const KitBinding& kit);

// The settings of the point with `values` (one per `paramNames` column, as SweepPlan has them).
merge::MergeSpec pointSpec(const SweepSpec& spec, const std::vector<std::string>& paramNames, const std::vector<double>& values);

}  // namespace ms::core::sweep
