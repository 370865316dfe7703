// A restricted unpickler for the data.pkl of PyTorch checkpoints. It interprets the pickle
// opcodes as data and never executes anything: each allow-listed global is given a fixed,
// hand-written meaning (rebuild a tensor view, make a dict, ...) or becomes an inert
// placeholder. Instantiating a placeholder class gives an Instance that only records its class
// name and the state BUILD gave it (a pickled nn.Module's __dict__). Globals outside the allow
// list are refused: the whole pickle is read first, so that one error lists all of them.
// Objects live in an arena owned by the unpickler, so cycles and deep nesting cannot overflow
// the stack on destruction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/io/dtype.h"

namespace ms::core::io::pickle {

// Instance: the inert result of instantiating (NEWOBJ, REDUCE, copyreg reconstructors) a global
// read as a placeholder. A pickle cannot tell a class from a function, so a placeholder
// function's "result" is an Instance too. Opaque: a value kept inert (an integer beyond 64 bits).
enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Set, Global,
                  Storage, Tensor, Opaque, Mark, Instance };

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
    std::string text;  // String, Bytes; "module.name" of a Global, Opaque, or Instance's class
    std::vector<Ref> items;  // Tuple, List, Set; an Instance's constructor arguments
    // Dict, in insertion order; an Instance's attributes (BUILD state: __dict__ and slots).
    std::vector<std::pair<Ref, Ref>> entries;
    StorageRef storage;
    TensorRef tensor;
};

struct UnpicklerOptions {
    // Extra globals read as inert placeholders instead of being refused: "module.name",
    // "module.*" (every global under that module, submodules included) or "*" (all). They are
    // still never executed. PyTorch's module classes (torch.nn.modules.*) need no entry.
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
    // FormatError naming the file, the reason and the byte offset; or, when the pickle names
    // globals outside the allow list, one FormatError listing all of them (sorted) and how to
    // accept them (--pickle-allow, a kit's pickle_allow:).
    Ref load(const std::byte* data, std::size_t size);

    // The classes ("module.name") the last load() instantiated as placeholders, sorted.
    std::vector<std::string> placeholderClasses() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// "module.name" (or "module.*") of the globals read without any option (for documentation
// and --help).
std::vector<std::string> allowedGlobals();

// Whether `pattern` (an inertGlobals entry: "module.name", "module.*" or "*") covers `name`.
bool globalPatternMatches(std::string_view pattern, std::string_view name);

}  // namespace ms::core::io::pickle
