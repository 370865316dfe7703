#include "core/io/pickle_reader.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <set>
#include <unordered_map>

#include "core/errors.h"

// GCC 12 reports a false -Wmaybe-uninitialized inside std::string comparisons here (GCC bug
// 105562); the code is clean under clang and under ASan/UBSan.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace ms::core::io::pickle {

namespace {

// Storage classes as torch.save names them, and the element type each holds.
struct StorageType {
    const char* name;
    DType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"torch.FloatStorage", DType::F32},   {"torch.DoubleStorage", DType::F64},
    {"torch.HalfStorage", DType::F16},    {"torch.BFloat16Storage", DType::BF16},
    {"torch.LongStorage", DType::I64},    {"torch.IntStorage", DType::I32},
    {"torch.ShortStorage", DType::I16},   {"torch.CharStorage", DType::I8},
    {"torch.ByteStorage", DType::U8},     {"torch.BoolStorage", DType::Bool},
    {"torch.UntypedStorage", DType::U8},
};
struct DTypeGlobal {
    const char* name;
    DType dtype;
};
constexpr DTypeGlobal kDTypeGlobals[] = {
    {"torch.float32", DType::F32}, {"torch.float64", DType::F64}, {"torch.float16", DType::F16},
    {"torch.bfloat16", DType::BF16}, {"torch.int64", DType::I64}, {"torch.int32", DType::I32},
    {"torch.int16", DType::I16},   {"torch.int8", DType::I8},     {"torch.uint8", DType::U8},
    {"torch.bool", DType::Bool},
};
// Globals whose calls produce values we do not need: read as inert placeholders.
constexpr const char* kInertGlobals[] = {
    "torch.device",          "argparse.Namespace",
    "numpy.dtype",           "numpy.core.multiarray.scalar",
    "numpy.core.multiarray._reconstruct", "numpy.ndarray",
    "torch.serialization._get_layout", "builtins.slice",
    "builtins.object",  // the base class copyreg._reconstructor names
};
// Read as placeholders without any option: PyTorch's own module classes, which a pickled
// nn.Module names (Linear, Conv2d, LayerNorm, Sequential, MultiheadAttention, ...).
constexpr const char* kDefaultPlaceholderPatterns[] = {"torch.nn.modules.*"};
// Globals with a hand-written meaning (see Impl::call).
constexpr const char* kCallableGlobals[] = {
    "collections.OrderedDict",           "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",   "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2",
    "torch.Size",                        "builtins.set",
    "builtins.frozenset",                "_codecs.encode",
    "torch.nn.parameter.Parameter",      "builtins.bytearray",
    "copyreg._reconstructor",            "copyreg.__newobj__",
    "copyreg.__newobj_ex__",
};
// Globals known and refused with a specific reason.
struct Unsupported {
    const char* name;
    const char* reason;
};
constexpr Unsupported kUnsupported[] = {
    {"torch._utils._rebuild_qtensor", "quantized tensors are not supported"},
    {"torch._utils._rebuild_sparse_tensor", "sparse tensors are not supported"},
    {"torch._utils._rebuild_sparse_csr_tensor", "sparse tensors are not supported"},
    {"torch._utils._rebuild_meta_tensor_no_storage", "meta tensors carry no data"},
    {"torch._utils._rebuild_wrapper_subclass", "tensor subclasses are not supported"},
    {"torch._utils._rebuild_device_tensor_from_numpy", "numpy-backed tensors are not supported"},
};

std::string normaliseModule(std::string module) {
    // Protocols 0-2 write Python 2's module names ("__builtin__", "copy_reg").
    if (module == "__builtin__") return "builtins";
    if (module == "copy_reg") return "copyreg";
    return module;
}

std::string joined(const std::set<std::string>& names, const std::string& before,
                   const std::string& separator, const std::string& after) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : separator) + before + n + after;
    return out;
}

// The one error for every global outside the allow list, and the two ways to accept them.
std::string refusalMessage(const std::set<std::string>& refused) {
    const bool one = refused.size() == 1;
    return std::string("pickle: refused global") + (one ? " " : "s ") +
           joined(refused, "'", ", ", "'") +
           ": the file names " + (one ? "a class or function" : "classes or functions") +
           " outside the allow list (only what state dicts and PyTorch's own modules use is "
           "read by default; nothing in a checkpoint is ever executed). If you trust this "
           "file, read " + (one ? "it" : "them") +
           " as inert placeholders: on the command line " +
           joined(refused, "--pickle-allow ", " ", "") +
           " (repeatable; 'module.*' globs and '*' work), or in a kit file pickle_allow: [" +
           joined(refused, "", ", ", "") + "]";
}

}  // namespace

struct Unpickler::Impl {
    std::string path;
    UnpicklerOptions options;
    std::vector<std::unique_ptr<Object>> arena;
    std::vector<Ref> stack;
    std::vector<std::size_t> marks;
    std::unordered_map<std::uint64_t, Ref> memo;
    std::set<std::string> refused;           // globals outside the allow list, read so far
    std::set<std::string> instanceClasses;   // classes instantiated as placeholders
    const std::byte* data = nullptr;
    std::size_t size = 0;
    std::size_t pos = 0;
    std::size_t opPos = 0;

    [[noreturn]] void fail(const std::string& reason) const {
        throw FormatError(path, "pickle: " + reason + " (at byte " + std::to_string(opPos) + ")");
    }

    Ref make(Kind k) {
        arena.push_back(std::make_unique<Object>());
        arena.back()->kind = k;
        return arena.back().get();
    }
    Ref makeInt(std::int64_t v) {
        Ref r = make(Kind::Int);
        r->integer = v;
        return r;
    }
    Ref makeText(Kind k, std::string s) {
        Ref r = make(k);
        r->text = std::move(s);
        return r;
    }

    // --- reading the byte stream ---
    const std::byte* take(std::size_t n) {
        if (n > size - pos) fail("truncated (needs " + std::to_string(n) + " more bytes)");
        const std::byte* p = data + pos;
        pos += n;
        return p;
    }
    std::uint64_t readLe(int n) {
        const std::byte* p = take(static_cast<std::size_t>(n));
        std::uint64_t v = 0;
        for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
        return v;
    }
    std::string readString(std::uint64_t n) {
        if (n > size - pos) fail("string length " + std::to_string(n) + " exceeds the data");
        const std::byte* p = take(static_cast<std::size_t>(n));
        return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    }
    std::string readLine() {
        const std::byte* start = data + pos;
        const void* nl = std::memchr(start, '\n', size - pos);
        if (!nl) fail("truncated (unterminated text line)");
        const std::size_t n = static_cast<const std::byte*>(nl) - start;
        pos += n + 1;
        std::string s(reinterpret_cast<const char*>(start), n);
        if (!s.empty() && s.back() == '\r') s.pop_back();
        return s;
    }

    // --- the stack ---
    Ref pop() {
        if (stack.size() <= (marks.empty() ? 0 : marks.back())) fail("stack underflow");
        Ref r = stack.back();
        stack.pop_back();
        return r;
    }
    Ref& top() {
        if (stack.size() <= (marks.empty() ? 0 : marks.back())) fail("stack underflow");
        return stack.back();
    }
    std::vector<Ref> popMark() {
        if (marks.empty()) fail("no mark on the stack");
        const std::size_t m = marks.back();
        marks.pop_back();
        std::vector<Ref> items(stack.begin() + static_cast<std::ptrdiff_t>(m), stack.end());
        stack.resize(m);
        return items;
    }
    void push(Ref r) {
        if (stack.size() > 10'000'000) fail("stack too deep");
        stack.push_back(r);
    }
    Ref memoGet(std::uint64_t i) {
        const auto it = memo.find(i);
        if (it == memo.end()) fail("memo key " + std::to_string(i) + " was never stored");
        return it->second;
    }
    void memoPut(std::uint64_t i) { memo[i] = top(); }

    // --- globals ---
    Ref global(std::string module, std::string name) {
        const std::string full = normaliseModule(std::move(module)) + "." + name;
        const std::string_view fv(full);
        for (const auto& u : kUnsupported)
            if (fv == u.name) fail(std::string("refused global '") + full + "': " + u.reason);
        bool known = false;
        for (const auto& s : kStorageTypes) known |= fv == s.name;
        for (const auto& s : kDTypeGlobals) known |= fv == s.name;
        for (const auto* s : kCallableGlobals) known |= fv == s;
        for (const auto* s : kInertGlobals) known |= fv == s;
        for (const auto* p : kDefaultPlaceholderPatterns) known |= globalPatternMatches(p, full);
        for (const auto& g : options.inertGlobals) known |= globalPatternMatches(g, full);
        // Refused, but read on as a placeholder so that the error can list every such global.
        if (!known) refused.insert(full);
        return makeText(Kind::Global, full);
    }

    static bool isCallable(std::string_view name) {
        for (const auto* s : kCallableGlobals)
            if (name == s) return true;
        return false;
    }

    // --- calls: the fixed meaning of each callable global ---
    const Object& arg(const std::vector<Ref>& args, std::size_t i, Kind k, const char* fn) {
        if (i >= args.size() || args[i]->kind != k)
            fail(std::string(fn) + ": argument " + std::to_string(i) + " has the wrong type");
        return *args[i];
    }
    std::vector<std::int64_t> intTuple(const Object& t, const char* what) {
        std::vector<std::int64_t> out;
        if (t.kind != Kind::Tuple && t.kind != Kind::List) fail(std::string(what) + " is not a tuple");
        for (Ref r : t.items) {
            if (r->kind != Kind::Int || r->integer < 0)
                fail(std::string(what) + " holds a value that is not a non-negative integer");
            out.push_back(r->integer);
        }
        return out;
    }

    Ref rebuildTensor(const std::vector<Ref>& args, bool v3) {
        const char* fn = v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2";
        if (args.size() < (v3 ? 7u : 6u)) fail(std::string(fn) + ": too few arguments");
        const Object& st = arg(args, 0, Kind::Storage, fn);
        const Object& off = arg(args, 1, Kind::Int, fn);
        Ref t = make(Kind::Tensor);
        t->tensor.storage = &st;
        t->tensor.dtype = st.storage.dtype;
        if (off.integer < 0) fail(std::string(fn) + ": negative storage offset");
        t->tensor.offset = static_cast<std::uint64_t>(off.integer);
        t->tensor.size = intTuple(*args[2], "tensor size");
        t->tensor.stride = intTuple(*args[3], "tensor stride");
        if (t->tensor.size.size() != t->tensor.stride.size())
            fail(std::string(fn) + ": size and stride differ in length");
        std::uint64_t storageNumel = st.storage.numel;
        if (v3) {
            const Object& dt = arg(args, 6, Kind::Global, fn);
            bool found = false;
            for (const auto& d : kDTypeGlobals)
                if (dt.text == d.name) {
                    t->tensor.dtype = d.dtype;
                    found = true;
                }
            if (!found) fail(std::string(fn) + ": unsupported dtype " + dt.text);
            // An untyped storage counts bytes.
            if (st.storage.dtype == DType::U8) storageNumel /= dtypeSize(t->tensor.dtype);
        }
        // The largest element index the view touches must lie inside the storage.
        std::uint64_t last = t->tensor.offset;
        bool empty = false;
        for (std::size_t i = 0; i < t->tensor.size.size(); ++i) {
            const auto n = static_cast<std::uint64_t>(t->tensor.size[i]);
            const auto s = static_cast<std::uint64_t>(t->tensor.stride[i]);
            if (n == 0) empty = true;
            if (n > 0 && s > 0 && (n - 1) > (UINT64_MAX - last) / s) fail("tensor view overflows");
            if (n > 0) last += (n - 1) * s;
        }
        if (!checkedNumel(t->tensor.size.data(), t->tensor.size.size())) fail("tensor too large");
        if (!empty && last >= storageNumel)
            fail(std::string(fn) + ": view reaches element " + std::to_string(last) +
                 " of a storage with " + std::to_string(storageNumel) + " elements");
        return t;
    }

    // A placeholder object of class `cls`; nothing of the class is ever run.
    Ref instance(const Object& cls, std::vector<Ref> args) {
        if (cls.kind != Kind::Global) fail("instantiation of a non-global object");
        Ref o = makeText(Kind::Instance, cls.text);
        o->items = std::move(args);
        instanceClasses.insert(cls.text);
        return o;
    }

    Ref call(const Object& callable, const std::vector<Ref>& args) {
        const std::string& f = callable.text;
        if (callable.kind != Kind::Global) fail("call of a non-global object");
        if (!isCallable(f)) return instance(callable, args);  // inert: never executed
        if (f == "copyreg._reconstructor" || f == "copyreg.__newobj__" ||
            f == "copyreg.__newobj_ex__") {
            // _reconstructor(cls, base, state) for protocols 0-1; __newobj__(cls, *args) and
            // __newobj_ex__(cls, args, kwargs) when a __reduce_ex__ returns them.
            if (args.empty()) fail(f + ": expects a class");
            return instance(*args[0], std::vector<Ref>(args.begin() + 1, args.end()));
        }
        if (f == "collections.OrderedDict") {
            Ref d = make(Kind::Dict);
            if (!args.empty() && (args[0]->kind == Kind::List || args[0]->kind == Kind::Tuple))
                for (Ref pair : args[0]->items)
                    if (pair->kind == Kind::Tuple && pair->items.size() == 2)
                        d->entries.emplace_back(pair->items[0], pair->items[1]);
            return d;
        }
        if (f == "torch._utils._rebuild_tensor_v2") return rebuildTensor(args, false);
        if (f == "torch._utils._rebuild_tensor_v3") return rebuildTensor(args, true);
        if (f == "torch._utils._rebuild_parameter" ||
            f == "torch._utils._rebuild_parameter_with_state" ||
            f == "torch.nn.parameter.Parameter") {
            if (args.empty() || args[0]->kind != Kind::Tensor) fail(f + ": expects a tensor");
            return args[0];
        }
        if (f == "torch._tensor._rebuild_from_type_v2") {
            // (func, new_type, args, state): rebuild with func; the subclass type is ignored.
            if (args.size() < 3 || args[0]->kind != Kind::Global || args[2]->kind != Kind::Tuple)
                fail(f + ": unexpected arguments");
            return call(*args[0], args[2]->items);
        }
        if (f == "torch.Size") {
            Ref t = make(Kind::Tuple);
            if (!args.empty()) t->items = args[0]->items;
            return t;
        }
        if (f == "builtins.set" || f == "builtins.frozenset") {
            Ref s = make(Kind::Set);
            if (!args.empty()) s->items = args[0]->items;
            return s;
        }
        if (f == "_codecs.encode" || f == "builtins.bytearray") {
            // Protocol 2 writes bytes as _codecs.encode(text, "latin1").
            Ref b = make(Kind::Bytes);
            if (!args.empty() && args[0]->kind == Kind::String) {
                const std::string& s = args[0]->text;
                for (std::size_t i = 0; i < s.size(); ++i) {
                    const auto c = static_cast<unsigned char>(s[i]);
                    if (c < 0x80) {
                        b->text.push_back(static_cast<char>(c));
                    } else if ((c & 0xe0) == 0xc0 && i + 1 < s.size()) {
                        const auto c2 = static_cast<unsigned char>(s[++i]);
                        b->text.push_back(static_cast<char>(((c & 0x1f) << 6) | (c2 & 0x3f)));
                    }
                }
            } else if (!args.empty() && args[0]->kind == Kind::Bytes) {
                b->text = args[0]->text;
            }
            return b;
        }
        fail("internal: unhandled global " + f);
    }

    Ref persistentLoad(Ref pid) {
        // ('storage', storage_type, key, location, numel)
        if (pid->kind != Kind::Tuple || pid->items.size() < 5 ||
            pid->items[0]->kind != Kind::String || pid->items[0]->text != "storage")
            fail("unsupported persistent id (expected a torch storage reference)");
        const Object& type = *pid->items[1];
        const Object& key = *pid->items[2];
        const Object& loc = *pid->items[3];
        const Object& numel = *pid->items[4];
        if (type.kind != Kind::Global || key.kind != Kind::String || numel.kind != Kind::Int ||
            numel.integer < 0)
            fail("malformed storage reference");
        Ref s = make(Kind::Storage);
        bool found = false;
        for (const auto& st : kStorageTypes)
            if (type.text == st.name) {
                s->storage.dtype = st.dtype;
                found = true;
            }
        if (!found) fail("unsupported storage type " + type.text);
        s->storage.key = key.text;
        s->storage.location = loc.kind == Kind::String ? loc.text : "";
        s->storage.numel = static_cast<std::uint64_t>(numel.integer);
        return s;
    }

    static void putEntry(std::vector<std::pair<Ref, Ref>>& entries, Ref key, Ref value) {
        // A repeated key replaces its value, as in Python.
        auto it = std::find_if(entries.begin(), entries.end(), [&](const auto& e) {
            return e.first->kind == key->kind &&
                   ((e.first->kind == Kind::String && e.first->text == key->text) ||
                    (e.first->kind == Kind::Int && e.first->integer == key->integer));
        });
        if (it != entries.end() && (key->kind == Kind::String || key->kind == Kind::Int))
            it->second = value;
        else
            entries.emplace_back(key, value);
    }

    void setItems(Ref target, const std::vector<Ref>& kv) {
        if (kv.size() % 2) fail("SETITEMS with an odd number of items");
        if (target->kind == Kind::Opaque || target->kind == Kind::Instance) return;
        if (target->kind != Kind::Dict) fail("SETITEM on a non-dict");
        for (std::size_t i = 0; i < kv.size(); i += 2) putEntry(target->entries, kv[i], kv[i + 1]);
    }

    // BUILD: an Instance keeps its state as attributes, as object.__setstate__ would set them
    // (a dict, or a (dict or None, slot dict) tuple). Any other target ignores it: nothing's
    // __setstate__ runs.
    void build(Ref target, const Object& state) {
        if (target->kind != Kind::Instance) return;
        auto merge = [&](const Object& d) {
            if (d.kind != Kind::Dict) return;
            for (const auto& [k, v] : d.entries) putEntry(target->entries, k, v);
        };
        if (state.kind == Kind::Dict) {
            merge(state);
        } else if (state.kind == Kind::Tuple && state.items.size() == 2) {
            merge(*state.items[0]);
            merge(*state.items[1]);
        }
    }

    void appendItems(Ref target, const std::vector<Ref>& items) {
        if (target->kind == Kind::Opaque || target->kind == Kind::Instance) return;
        if (target->kind != Kind::List && target->kind != Kind::Set)
            fail("APPEND on a non-list");
        target->items.insert(target->items.end(), items.begin(), items.end());
    }

    Ref longFromBytes(const std::byte* p, std::size_t n) {
        if (n == 0) return makeInt(0);
        if (n > 8) return makeText(Kind::Opaque, "int");  // beyond 64 bits: kept inert
        std::uint64_t v = 0;
        for (std::size_t i = n; i-- > 0;) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
        if (n < 8 && (static_cast<std::uint8_t>(p[n - 1]) & 0x80)) v |= ~0ULL << (8 * n);
        return makeInt(static_cast<std::int64_t>(v));
    }

    Ref run();
    Ref interpret();
};

Unpickler::Unpickler(std::string path, UnpicklerOptions options)
    : m_impl(std::make_unique<Impl>()) {
    m_impl->path = std::move(path);
    m_impl->options = std::move(options);
}

Unpickler::~Unpickler() = default;

Ref Unpickler::load(const std::byte* data, std::size_t size) {
    m_impl->data = data;
    m_impl->size = size;
    m_impl->pos = 0;
    m_impl->refused.clear();
    m_impl->instanceClasses.clear();
    return m_impl->run();
}

std::vector<std::string> Unpickler::placeholderClasses() const {
    return {m_impl->instanceClasses.begin(), m_impl->instanceClasses.end()};
}

Ref Unpickler::Impl::run() {
    Ref root = nullptr;
    try {
        root = interpret();
    } catch (const FormatError&) {
        // A refused global is the first thing to fix (and may be why the rest failed).
        if (refused.empty()) throw;
    }
    if (!refused.empty()) throw FormatError(path, refusalMessage(refused));
    return root;
}

Ref Unpickler::Impl::interpret() {
    for (;;) {
        opPos = pos;
        if (pos >= size) fail("ends without a STOP opcode (truncated?)");
        const auto op = static_cast<std::uint8_t>(data[pos++]);
        switch (op) {
            case 0x80: (void)take(1); break;           // PROTO
            case 0x95: (void)take(8); break;           // FRAME: a length hint only
            case '.': {                                // STOP
                if (stack.size() != 1 || !marks.empty()) fail("STOP with a malformed stack");
                return stack.back();
            }
            case '(': marks.push_back(stack.size()); break;  // MARK
            case '0': (void)pop(); break;                    // POP
            case '1': (void)popMark(); break;                // POP_MARK
            case '2': push(top()); break;                    // DUP
            case 'N': push(make(Kind::None)); break;
            case 0x88: case 0x89: {                          // NEWTRUE / NEWFALSE
                Ref b = make(Kind::Bool);
                b->boolean = op == 0x88;
                push(b);
                break;
            }
            case 'J': push(makeInt(static_cast<std::int32_t>(readLe(4)))); break;  // BININT
            case 'K': push(makeInt(static_cast<std::int64_t>(readLe(1)))); break;  // BININT1
            case 'M': push(makeInt(static_cast<std::int64_t>(readLe(2)))); break;  // BININT2
            case 0x8a: {                                                       // LONG1
                const auto n = readLe(1);
                push(longFromBytes(take(n), n));
                break;
            }
            case 0x8b: {                                                       // LONG4
                const auto n = readLe(4);
                if (n > size - pos) fail("LONG4 length exceeds the data");
                push(longFromBytes(take(n), n));
                break;
            }
            case 'I': case 'L': {  // INT / LONG (text)
                std::string s = readLine();
                if (!s.empty() && s.back() == 'L') s.pop_back();
                if (s == "01" || s == "00") {
                    Ref b = make(Kind::Bool);
                    b->boolean = s == "01";
                    push(b);
                    break;
                }
                errno = 0;
                char* end = nullptr;
                const long long v = std::strtoll(s.c_str(), &end, 10);
                if (s.empty() || *end != '\0' || errno == ERANGE) fail("bad integer literal");
                push(makeInt(v));
                break;
            }
            case 'G': {  // BINFLOAT: big-endian double
                const std::byte* p = take(8);
                std::uint64_t bits = 0;
                for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<std::uint8_t>(p[i]);
                Ref r = make(Kind::Float);
                std::memcpy(&r->real, &bits, 8);
                push(r);
                break;
            }
            case 'F': {  // FLOAT (text)
                const std::string s = readLine();
                char* end = nullptr;
                Ref r = make(Kind::Float);
                r->real = std::strtod(s.c_str(), &end);
                if (s.empty() || *end != '\0') fail("bad float literal");
                push(r);
                break;
            }
            case 'X': push(makeText(Kind::String, readString(readLe(4)))); break;  // BINUNICODE
            case 0x8c: push(makeText(Kind::String, readString(readLe(1)))); break;  // SHORT_BINUNICODE
            case 0x8d: push(makeText(Kind::String, readString(readLe(8)))); break;  // BINUNICODE8
            case 'T': push(makeText(Kind::String, readString(readLe(4)))); break;  // BINSTRING
            case 'U': push(makeText(Kind::String, readString(readLe(1)))); break;  // SHORT_BINSTRING
            case 'B': push(makeText(Kind::Bytes, readString(readLe(4)))); break;   // BINBYTES
            case 'C': push(makeText(Kind::Bytes, readString(readLe(1)))); break;   // SHORT_BINBYTES
            case 0x8e: push(makeText(Kind::Bytes, readString(readLe(8)))); break;  // BINBYTES8
            case 0x96: push(makeText(Kind::Bytes, readString(readLe(8)))); break;  // BYTEARRAY8
            case ')': push(make(Kind::Tuple)); break;                             // EMPTY_TUPLE
            case ']': push(make(Kind::List)); break;                              // EMPTY_LIST
            case '}': push(make(Kind::Dict)); break;                              // EMPTY_DICT
            case 0x8f: push(make(Kind::Set)); break;                              // EMPTY_SET
            case 't': {                                                           // TUPLE
                Ref t = make(Kind::Tuple);
                t->items = popMark();
                push(t);
                break;
            }
            case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
                const std::size_t n = op - 0x84u;
                Ref t = make(Kind::Tuple);
                t->items.resize(n);
                for (std::size_t i = n; i-- > 0;) t->items[i] = pop();
                push(t);
                break;
            }
            case 'l': {  // LIST
                Ref l = make(Kind::List);
                l->items = popMark();
                push(l);
                break;
            }
            case 'd': {  // DICT
                Ref d = make(Kind::Dict);
                setItems(d, popMark());
                push(d);
                break;
            }
            case 0x91: {  // FROZENSET
                Ref s = make(Kind::Set);
                s->items = popMark();
                push(s);
                break;
            }
            case 'a': {  // APPEND
                Ref v = pop();
                appendItems(top(), {v});
                break;
            }
            case 'e': {  // APPENDS
                auto items = popMark();
                appendItems(top(), items);
                break;
            }
            case 0x90: {  // ADDITEMS
                auto items = popMark();
                appendItems(top(), items);
                break;
            }
            case 's': {  // SETITEM
                Ref v = pop();
                Ref k = pop();
                setItems(top(), {k, v});
                break;
            }
            case 'u': {  // SETITEMS
                auto kv = popMark();
                setItems(top(), kv);
                break;
            }
            case 'c': {  // GLOBAL "module\nname\n"
                std::string module = readLine();
                std::string name = readLine();
                push(global(std::move(module), std::move(name)));
                break;
            }
            case 0x93: {  // STACK_GLOBAL
                Ref name = pop();
                Ref module = pop();
                if (name->kind != Kind::String || module->kind != Kind::String)
                    fail("STACK_GLOBAL needs two strings");
                push(global(module->text, name->text));
                break;
            }
            case 'R': {  // REDUCE
                Ref args = pop();
                Ref fn = pop();
                if (args->kind != Kind::Tuple) fail("REDUCE arguments are not a tuple");
                push(call(*fn, args->items));
                break;
            }
            case 0x81: {  // NEWOBJ
                Ref args = pop();
                Ref cls = pop();
                if (args->kind != Kind::Tuple) fail("NEWOBJ arguments are not a tuple");
                push(call(*cls, args->items));
                break;
            }
            case 0x92: {  // NEWOBJ_EX
                (void)pop();  // kwargs
                Ref args = pop();
                Ref cls = pop();
                if (args->kind != Kind::Tuple) fail("NEWOBJ_EX arguments are not a tuple");
                push(call(*cls, args->items));
                break;
            }
            case 'b': {  // BUILD
                Ref state = pop();
                build(top(), *state);
                break;
            }
            case 'Q': push(persistentLoad(pop())); break;  // BINPERSID
            case 'q': memoPut(readLe(1)); break;           // BINPUT
            case 'r': memoPut(readLe(4)); break;           // LONG_BINPUT
            case 0x94: memoPut(memo.size()); break;        // MEMOIZE
            case 'p': {                                    // PUT (text)
                const std::string s = readLine();
                char* end = nullptr;
                const auto v = std::strtoull(s.c_str(), &end, 10);
                if (s.empty() || *end != '\0') fail("bad memo key");
                memoPut(v);
                break;
            }
            case 'h': push(memoGet(readLe(1))); break;  // BINGET
            case 'j': push(memoGet(readLe(4))); break;  // LONG_BINGET
            case 'g': {                                 // GET (text)
                const std::string s = readLine();
                char* end = nullptr;
                const auto v = std::strtoull(s.c_str(), &end, 10);
                if (s.empty() || *end != '\0') fail("bad memo key");
                push(memoGet(v));
                break;
            }
            case 0x98: break;  // READONLY_BUFFER: no-op on our values
            case 'i': case 'o':
                fail("opcode INST/OBJ (protocol 0 object construction) is not supported");
            case 0x82: case 0x83: case 0x84:
                fail("extension registry opcodes are not supported");
            case 'P': fail("text persistent ids are not supported");
            case 0x97: fail("out-of-band buffers are not supported");
            default: {
                char buf[8];
                std::snprintf(buf, sizeof buf, "0x%02x", op);
                fail(std::string("unknown opcode ") + buf);
            }
        }
    }
}

std::vector<std::string> allowedGlobals() {
    std::vector<std::string> out;
    for (const auto* s : kCallableGlobals) out.emplace_back(s);
    for (const auto& s : kStorageTypes) out.emplace_back(s.name);
    for (const auto& s : kDTypeGlobals) out.emplace_back(s.name);
    for (const auto* s : kInertGlobals) out.emplace_back(s);
    for (const auto* s : kDefaultPlaceholderPatterns) out.emplace_back(s);
    return out;
}

bool globalPatternMatches(std::string_view pattern, std::string_view name) {
    if (pattern == "*") return true;
    if (pattern.size() > 2 && pattern.ends_with(".*")) {
        const std::string_view prefix = pattern.substr(0, pattern.size() - 1);  // keeps the dot
        return name.size() > prefix.size() && name.starts_with(prefix);
    }
    return pattern == name;
}

}  // namespace ms::core::io::pickle
