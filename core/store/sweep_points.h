// A sweep's points in an experiment: their plan-order numbers (from 1, as `report` prints them) and
// the merge settings of one of them, bound to the experiment's inputs — what `merge --experiment`
// and the workbench's "Save merged model" re-make (sweep::pointSpec gives the settings of a point).
#pragma once

#include <string>
#include <vector>

#include "core/merge/merge_spec.h"
#include "core/store/experiment.h"

namespace ms::core::store {

// The plan-order number (from 1) of each of the record's points; 0 for a point the plan lacks.
std::vector<int> pointNumbers(const SweepRecord& record);

// Point `number` (from 1, plan order) of sweep `sweepId`, bound to the experiment's inputs.
// InvalidArgument naming what is wrong: no such sweep (listing the ids), a number outside the
// plan, a point not computed yet.
merge::MergeSpec pointSpec(const Experiment& experiment, const std::string& sweepId, int number);

}  // namespace ms::core::store
