// Checkpoints of one model saved under different wrappers: `module.` (DataParallel), a
// `vision_model.` root (CLIPModel vs CLIPVisionModel), `backbone.`, ... alignPrefixes finds the
// prefix change that maps most of a file's tensor names onto the base's, and withPrefix presents
// the file under the base's names (a view: no tensor is copied). Merging aligns every expert to
// its base this way, so experts need not be saved by the same class as the base.
#pragma once

#include <memory>
#include <string>

#include "core/io/tensor_source.h"

namespace ms::core::io {

struct PrefixChange {
    std::string strip;  // removed from the file's names
    std::string add;    // then put in front
    bool identity() const { return strip == add; }
};

// Identity when the names already match (at least half of the file's tensors are the base's),
// or when no single change matches more of them.
PrefixChange alignPrefixes(const TensorSource& base, const TensorSource& file);

// `file` under changed names; tensors without the stripped prefix are left out.
std::unique_ptr<TensorSource> withPrefix(std::unique_ptr<TensorSource> file, const PrefixChange& change);

}  // namespace ms::core::io
