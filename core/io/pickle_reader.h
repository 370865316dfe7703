// A restricted unpickler for the data.pkl of PyTorch checkpoints. It interprets the pickle
// opcodes as data and never executes anything: each allow-listed global is given a fixed,
// hand-written meaning (rebuild a tensor view, make a dict, ...) or becomes an inert
// placeholder; any other global is refused with an error naming it. Objects live in an arena
// owned by the unpickler, so cycles and deep nesting cannot overflow the stack on destruction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/io/dtype.h"

namespace ms::core::io::pickle {

enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Set, Global,
                  Storage, Tensor, Opaque, Mark };

struct Object;
using Ref = Object*;

struct StorageRef {
    std::string key;       // entry name under <archive>/data/
    DType dtype = DType::U8;
    std::uint64_t numel = 0;  // in elements of dtype
    std::string location;  // "cpu", "cuda:0", ...
};

struct TensorRef {
    const Object* storage = nullptr;
    DType dtype = DType::F32;
    std::uint64_t offset = 0;  // in elements
    std::vector<std::int64_t> size;
    std::vector<std::int64_t> stride;
};

struct Object {
    Kind kind = Kind::None;
    bool boolean = false;
    std::int64_t integer = 0;
    double real = 0;
    std::string text;                    // String, Bytes, Global/Opaque "module.name"
    std::vector<Ref> items;              // Tuple, List, Set
    std::vector<std::pair<Ref, Ref>> entries;  // Dict, in insertion order
    StorageRef storage;
    TensorRef tensor;
};

struct UnpicklerOptions {
    // Extra globals ("module.name", or "*" for all) read as inert placeholders instead of
    // being refused. They are still never executed.
    std::vector<std::string> inertGlobals;
};

class Unpickler {
public:
    // `path` is used in error messages only.
    Unpickler(std::string path, UnpicklerOptions options = {});
    ~Unpickler();
    Unpickler(const Unpickler&) = delete;
    Unpickler& operator=(const Unpickler&) = delete;

    // Interprets the pickle; returns the root object (owned by this unpickler). Throws
    // FormatError naming the file, the reason and the byte offset.
    Ref load(const std::byte* data, std::size_t size);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// "module.name" of the globals read without any option (for documentation and --help).
std::vector<std::string> allowedGlobals();

}  // namespace ms::core::io::pickle
