// Which tensors a merge touches: floating tensors present in the base and in every expert with
// the same shape are merged (unless a filter excludes them); the base's other tensors are copied;
// expert-only tensors (task heads) are left out. Also the flattened layout (sorted by name, as
// METHODS.md defines "flattened"), the transformer block of each tensor and its row length.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/io/tensor_source.h"

namespace ms::core::merge {

struct TensorFilter {
    std::vector<std::string> include;  // regexes; empty = every tensor
    std::vector<std::string> exclude;  // regexes
    bool excludeHeads = true;          // kDefaultHeadPattern
};

// Tensor names that belong to task heads, excluded from merging by default.
extern const char* const kDefaultHeadPattern;
// Recognises the transformer block index in a name: blocks.N., layers.N., layer.N., h.N., ...
extern const char* const kBlockPattern;

struct PlannedTensor {
    std::string name;
    std::vector<std::int64_t> shape;
    std::uint64_t numel = 0;
    std::uint64_t rowLength = 1;  // elements per row: numel / shape[0] for rank >= 2
    std::uint64_t flatOffset = 0;  // offset in the flattened task vector
    int block = -1;               // transformer block index, -1 if none
    // Relative depth as mergekit evaluates gradients: block / (blocks − 1) (1 when there is one
    // block), 0 outside the blocks (embeddings, final norm: mergekit's pre/post weights).
    double depth = 0.0;
    std::uint64_t nameHash = 0;   // seeds per-tensor randomness (DARE) independently of order
    io::DType baseDtype = io::DType::F32;
};

struct TensorPlan {
    std::vector<PlannedTensor> merged;  // sorted by name
    std::vector<std::string> copied;    // base tensors written unchanged
    std::vector<std::string> ignored;   // in experts only (heads): not in the output
    std::uint64_t mergedElements = 0;
    int blockCount = 0;
};

// Throws MismatchError with the compatibility report (file, tensor, reason per line) when a
// tensor to merge is missing from an expert or has another shape; InvalidArgument for a bad regex.
TensorPlan makePlan(const io::TensorSource& base, const std::vector<const io::TensorSource*>& experts,
                    const TensorFilter& filter);

int blockIndexOf(const std::string& name);

}  // namespace ms::core::merge
