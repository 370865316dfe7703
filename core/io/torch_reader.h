// Reads PyTorch checkpoints written by torch.save (the zip format, PyTorch >= 1.6): plain
// state_dict() OrderedDicts, plain dicts, training checkpoints that nest the weights under a
// key, and whole pickled nn.Modules (named as module.state_dict() names them; classes outside
// PyTorch must be allowed as inert placeholders). The pickle is read by the restricted
// Unpickler (nothing is executed); tensor bytes are read lazily from the zip entries, as views
// into the mapped file when contiguous.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/io/tensor_source.h"

namespace ms::core::io {

struct TorchReadOptions {
    // Dotted path of the weights inside the checkpoint ("state_dict", "model.ema", ...). Empty:
    // use the top level if it holds tensors, else the first of kStateDictKeys that does.
    std::string key;
    // Extra pickle globals read as inert placeholders: "module.name", "module.*" or "*" (see
    // UnpicklerOptions).
    std::vector<std::string> inertGlobals;
};

// Keys tried, in order, when a checkpoint nests its weights.
extern const std::vector<std::string> kStateDictKeys;

std::unique_ptr<TensorSource> openTorch(const std::string& path,
                                        const TorchReadOptions& options = {});

}  // namespace ms::core::io
