// Checks that a base checkpoint and its fine-tuned experts fit together before anything is
// merged: missing/extra tensors, shape and dtype mismatches, non-finite values. Every problem is
// reported per file and tensor in one report instead of stopping at the first.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/io/tensor_source.h"
#include "core/jobs/progress.h"

namespace ms::core::io {

enum class CompatKind { Missing, Extra, ShapeMismatch, DTypeMismatch, NonFinite };
enum class Severity { Error, Warning };

struct CompatIssue {
    std::string file;
    std::string tensor;
    CompatKind kind;
    Severity severity;
    std::string detail;
};

struct CompatOptions {
    bool checkFinite = true;  // reads every floating tensor of every file
};

struct CompatReport {
    std::vector<CompatIssue> issues;
    std::size_t tensorsChecked = 0;
    std::size_t errorCount() const;
    bool ok() const { return errorCount() == 0; }
    // A readable multi-line report, grouped by file; "" when there is nothing to say.
    std::string format() const;
};

std::string_view compatKindName(CompatKind k);

// Tensors present only in an expert (e.g. its task head) are warnings; a base tensor missing
// from an expert, a shape mismatch or a non-finite value is an error.
CompatReport checkCompatibility(const TensorSource& base,
                                const std::vector<const TensorSource*>& experts,
                                const CompatOptions& options = {},
                                ProgressSink& progress = nullProgress(),
                                const CancelToken* cancel = nullptr);

// Number of NaN/Inf elements of a floating tensor (0 for integer tensors).
std::uint64_t countNonFinite(DType dtype, const std::byte* data, std::uint64_t numel);

}  // namespace ms::core::io
