// Gathers the parts of a sharded sweep (sweep --shard I/N, one experiment file each) into one
// experiment holding every point once, in plan order. Parts must come from the same sweep spec,
// options and kit (input hashes): anything else is refused, naming the two files and what differs.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/store/experiment.h"

namespace ms::core::store {

struct GatherResult {
    Experiment experiment;  // one sweep: complete, or cancelled with points missing (--resume fills them)
    std::vector<int> missing;      // plan-order numbers (from 1) of the points no part holds
    std::vector<std::string> shards;  // shards present ("1/4", ...), in the parts' order
    int duplicates = 0;            // points held by more than one part (the first part's kept)
};

// `parts`: (file, its experiment). InvalidArgument when they do not belong together, when a part
// holds no sweep or several, or a point outside the plan.
GatherResult gatherShards(const std::vector<std::pair<std::string, Experiment>>& parts);

}  // namespace ms::core::store
