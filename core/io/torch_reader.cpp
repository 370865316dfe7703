#include "core/io/torch_reader.h"

#include <cstring>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "core/io/mapped_file.h"
#include "core/io/pickle_reader.h"
#include "core/io/pickled_module.h"
#include "core/io/zip_archive.h"

namespace ms::core::io {

const std::vector<std::string> kStateDictKeys = {
    "state_dict", "model_state_dict", "model", "module", "net", "network", "params", "weights",
};

namespace {
using pickle::Kind;
using pickle::Object;

constexpr int kMaxDepth = 64;

struct TensorEntry {
    const Object* tensor;
    const ZipArchive::Entry* storage;
};

bool holdsTensors(const Object* o, int depth, std::set<const Object*>& seen) {
    if (!o || depth > kMaxDepth || !seen.insert(o).second) return false;
    if (o->kind == Kind::Tensor) return true;
    if (o->kind == Kind::Dict) {
        for (const auto& [k, v] : o->entries)
            if (holdsTensors(v, depth + 1, seen)) return true;
    }
    if (pickle::isModule(o)) {
        for (const char* dict : {"_parameters", "_buffers", "_modules"})
            if (holdsTensors(pickle::attribute(o, dict), depth + 1, seen)) return true;
    }
    return false;
}

bool holdsTensors(const Object* o) {
    std::set<const Object*> seen;
    return holdsTensors(o, 0, seen);
}

std::string keyText(const Object* k) {
    if (k->kind == Kind::String) return k->text;
    if (k->kind == Kind::Int) return std::to_string(k->integer);
    return {};
}

const Object* lookup(const Object* dict, const std::string& key) {
    if (pickle::isModule(dict)) return pickle::moduleMember(dict, key);
    if (!dict || dict->kind != Kind::Dict) return nullptr;
    for (const auto& [k, v] : dict->entries)
        if (keyText(k) == key) return v;
    return nullptr;
}

std::string scalarText(const Object* v) {
    switch (v->kind) {
        case Kind::String: return v->text;
        case Kind::Int: return std::to_string(v->integer);
        case Kind::Bool: return v->boolean ? "true" : "false";
        case Kind::Float: {
            std::ostringstream s;
            s.precision(17);
            s << v->real;
            return s.str();
        }
        default: return {};
    }
}

bool isContiguous(const pickle::TensorRef& t) {
    std::int64_t expected = 1;
    for (std::size_t i = t.size.size(); i-- > 0;) {
        if (t.size[i] == 1) continue;
        if (t.stride[i] != expected) return false;
        expected *= t.size[i];
    }
    return true;
}

class TorchSource final : public TensorSource {
public:
    TorchSource(std::string path, std::shared_ptr<const MappedFile> file)
        : TensorSource(std::move(path)), m_file(file), m_zip(std::move(file)) {}

    std::string_view format() const override { return "pytorch"; }

    void open(const TorchReadOptions& options) {
        findPrefix();
        if (const auto* bo = m_zip.find(m_prefix + "byteorder")) {
            const TensorData d = m_zip.read(*bo);
            const std::string order(reinterpret_cast<const char*>(d.data()), d.size());
            if (order != "little")
                throw FormatError(m_path, "big-endian checkpoints are not supported");
        }
        if (const auto* v = m_zip.find(m_prefix + "version")) {
            const TensorData d = m_zip.read(*v);
            std::string s(reinterpret_cast<const char*>(d.data()), d.size());
            while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
            m_metadata["pytorch.format_version"] = s;
        }
        const TensorData pkl = m_zip.read(*m_zip.find(m_prefix + "data.pkl"));
        m_unpickler = std::make_unique<pickle::Unpickler>(m_path, pickle::UnpicklerOptions{options.inertGlobals});
        const Object* root = m_unpickler->load(pkl.data(), pkl.size());
        const Object* weights = chooseWeights(root, options.key);
        describeModule(weights);
        flatten(weights, "", 0);
        if (m_tensors.empty()) throw FormatError(m_path, "the checkpoint holds no tensors");
    }

    void release(const std::string& name) const override {
        const auto it = m_entries.find(name);
        if (it == m_entries.end() || it->second.storage->method != 0) return;
        m_file->release(it->second.storage->dataOffset, it->second.storage->size);
    }

protected:
    TensorData loadImpl(const TensorInfo& info) const override {
        const TensorEntry& e = m_entries.at(info.name);
        const auto& t = e.tensor->tensor;
        const std::size_t elem = dtypeSize(t.dtype);
        const TensorData storage = m_zip.read(*e.storage);
        if (isContiguous(t))
            return TensorData::view(std::make_shared<TensorData>(storage),
                                    storage.data() + t.offset * elem, info.nbytes);
        // A strided view (a transposed or sliced tensor saved as is): gather the elements.
        std::vector<std::byte> out(info.nbytes);
        const std::size_t rank = t.size.size();
        std::vector<std::int64_t> idx(rank, 0);
        for (std::uint64_t n = 0; n < info.numel; ++n) {
            std::uint64_t src = t.offset;
            for (std::size_t d = 0; d < rank; ++d) src += static_cast<std::uint64_t>(idx[d] * t.stride[d]);
            std::memcpy(out.data() + n * elem, storage.data() + src * elem, elem);
            for (std::size_t d = rank; d-- > 0;) {
                if (++idx[d] < t.size[d]) break;
                idx[d] = 0;
            }
        }
        return TensorData::owned(std::move(out));
    }

private:
    void findPrefix() {
        std::string found;
        for (const auto& e : m_zip.entries()) {
            const std::string suffix = "data.pkl";
            if (e.name.size() >= suffix.size() &&
                e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
                const std::string prefix = e.name.substr(0, e.name.size() - suffix.size());
                if (prefix.empty() || prefix.back() != '/' ||
                    prefix.find('/') != prefix.size() - 1)
                    continue;
                if (!found.empty())
                    throw FormatError(m_path, "zip holds more than one data.pkl");
                found = prefix;
            }
        }
        if (found.empty())
            throw FormatError(m_path,
                              "zip archive has no <name>/data.pkl: not a torch.save checkpoint");
        m_prefix = found;
    }

    const Object* chooseWeights(const Object* root, const std::string& key) {
        if (!key.empty()) {
            const Object* cur = root;
            std::string walked;
            std::stringstream parts(key);
            std::string part;
            while (std::getline(parts, part, '.')) {
                const Object* next = lookup(cur, part);
                if (!next)
                    throw FormatError(m_path, "key '" + key + "' not found (no '" + part + "'" +
                                                  (walked.empty() ? "" : " under '" + walked + "'") +
                                                  "); top-level keys: " + topKeys(root));
                walked += (walked.empty() ? "" : ".") + part;
                cur = next;
            }
            m_metadata["pytorch.state_dict_key"] = key;
            return cur;
        }
        if (pickle::isModule(root)) return root;  // torch.save(module): its state_dict()
        if (root->kind == Kind::Instance)
            throw FormatError(m_path, "the checkpoint is a pickled '" + root->text +
                                          "', which is neither an nn.Module nor a dict of tensors");
        if (root->kind != Kind::Dict)
            throw FormatError(m_path, "the checkpoint is not a dict of tensors nor a pickled "
                                      "nn.Module: save model.state_dict() instead");
        for (const auto& [k, v] : root->entries)
            if (v->kind == Kind::Tensor) return root;
        for (const auto& name : kStateDictKeys) {
            const Object* v = lookup(root, name);
            if (v && (v->kind == Kind::Dict || pickle::isModule(v)) && holdsTensors(v)) {
                m_metadata["pytorch.state_dict_key"] = name;
                for (const auto& [k, val] : root->entries) {
                    const std::string s = scalarText(val);
                    if (!s.empty() && k->kind == Kind::String) m_metadata["checkpoint." + k->text] = s;
                }
                return v;
            }
        }
        return root;
    }

    std::string topKeys(const Object* root) const {
        std::string out;
        if (root->kind == Kind::Dict)
            for (const auto& [k, v] : root->entries) out += (out.empty() ? "" : ", ") + keyText(k);
        return out.empty() ? "(none)" : out;
    }

    // What the chosen pickled module is: its class, its scalar attributes (hyper-parameters
    // such as a head's `normalize`), and every class the pickle instantiated as a placeholder.
    void describeModule(const Object* weights) {
        const auto classes = m_unpickler->placeholderClasses();
        if (!classes.empty()) {
            std::string list;
            for (const auto& c : classes) list += (list.empty() ? "" : ",") + c;
            m_metadata["pickle.classes"] = list;
        }
        if (!pickle::isModule(weights)) return;
        m_metadata["pickle.class"] = weights->text;
        for (const auto& [k, v] : weights->entries) {
            if (k->kind != Kind::String) continue;
            const std::string s = scalarText(v);
            if (!s.empty()) m_metadata["pickle.attr." + k->text] = s;
        }
        describeSubmodules(weights, "", 0);
    }

    // The architecture a pickled module states, for what the weights' shapes cannot tell (the
    // number of attention heads, the activation's class, LayerNorm's ε): each submodule's class
    // as pickle.module.PATH, and its num_heads / eps / approximate as pickle.attr.PATH.NAME.
    void describeSubmodules(const Object* module, const std::string& prefix, int depth) {
        if (depth > kMaxDepth) return;
        const Object* children = pickle::attribute(module, "_modules");
        if (!children || children->kind != Kind::Dict) return;
        for (const auto& [k, child] : children->entries) {
            if (k->kind != Kind::String || child->kind != Kind::Instance) continue;
            const std::string path = prefix + k->text;
            m_metadata["pickle.module." + path] = child->text;
            for (const char* name : {"num_heads", "eps", "approximate"})
                if (const Object* v = pickle::attribute(child, name)) {
                    const std::string s = scalarText(v);
                    if (!s.empty()) m_metadata["pickle.attr." + path + "." + name] = s;
                }
            describeSubmodules(child, path + ".", depth + 1);
        }
    }

    // module.state_dict()'s entries; a tensor shared by two modules is listed under both names,
    // as state_dict() lists it.
    void flattenModule(const Object* module, const std::string& prefix) {
        pickle::forEachStateEntry(m_path, module, prefix.empty() ? "" : prefix + ".", kMaxDepth,
                                  [&](const std::string& name, const Object* v) {
                                      if (v->kind == Kind::Tensor) return addTensorEntry(name, v);
                                      throw FormatError(
                                          m_path, name,
                                          "the module holds a value that is not a tensor the "
                                          "reader understands" +
                                              (v->kind == Kind::Instance
                                                   ? " (a placeholder '" + v->text + "')"
                                                   : std::string()));
                                  });
    }

    void flatten(const Object* o, const std::string& prefix, int depth) {
        if (depth > kMaxDepth) throw FormatError(m_path, "checkpoint nesting is too deep");
        if (!m_seen.insert(o).second) return;
        if (o->kind == Kind::Tensor) {
            addTensorEntry(prefix.empty() ? "tensor" : prefix, o);
            return;
        }
        if (pickle::isModule(o)) {
            flattenModule(o, prefix);
            return;
        }
        if (o->kind == Kind::Dict) {
            for (const auto& [k, v] : o->entries) {
                const std::string name = keyText(k);
                if (name.empty()) continue;
                flatten(v, prefix.empty() ? name : prefix + "." + name, depth + 1);
            }
        } else if (o->kind == Kind::List || o->kind == Kind::Tuple) {
            for (std::size_t i = 0; i < o->items.size(); ++i)
                flatten(o->items[i], prefix + (prefix.empty() ? "" : ".") + std::to_string(i), depth + 1);
        }
    }

    void addTensorEntry(const std::string& name, const Object* o) {
        const auto& t = o->tensor;
        const auto& st = t.storage->storage;
        const auto* entry = m_zip.find(m_prefix + "data/" + st.key);
        if (!entry)
            throw FormatError(m_path, name, "its storage '" + st.key + "' is missing from the archive");
        const std::uint64_t storageBytes = st.numel * dtypeSize(st.dtype);
        if (st.numel > UINT64_MAX / 8 || entry->size < storageBytes)
            throw FormatError(m_path, name,
                              "storage '" + st.key + "' holds " + std::to_string(entry->size) +
                                  " bytes, fewer than the " + std::to_string(storageBytes) +
                                  " its header declares (truncated file?)");
        TensorInfo info;
        info.name = name;
        info.dtype = t.dtype;
        info.shape = t.size;
        info.numel = *checkedNumel(t.size.data(), t.size.size());
        info.nbytes = info.numel * dtypeSize(t.dtype);
        addTensor(info);
        m_entries[name] = {o, entry};
    }

    std::shared_ptr<const MappedFile> m_file;
    ZipArchive m_zip;
    std::string m_prefix;
    std::unique_ptr<pickle::Unpickler> m_unpickler;
    std::unordered_map<std::string, TensorEntry> m_entries;
    std::set<const Object*> m_seen;
};

}  // namespace

std::unique_ptr<TensorSource> openTorch(const std::string& path, const TorchReadOptions& options) {
    auto file = MappedFile::open(path);
    if (file->size() == 0) throw FormatError(path, "file is empty");
    const auto* d = file->data();
    const bool zip = file->size() >= 4 && std::memcmp(d, "PK\x03\x04", 4) == 0;
    if (!zip) {
        if (static_cast<std::uint8_t>(d[0]) == 0x80 ||
            (file->size() > 262 && std::memcmp(d + 257, "ustar", 5) == 0))
            throw FormatError(path,
                              "legacy (pre-1.6, non-zip) PyTorch format is not supported: load it "
                              "in Python and re-save with torch.save(obj, path) from PyTorch 1.6 "
                              "or newer (the zip format is the default)");
        throw FormatError(path, "not a PyTorch zip checkpoint (wrong magic bytes)");
    }
    auto src = std::make_unique<TorchSource>(path, file);
    src->open(options);
    return src;
}

}  // namespace ms::core::io
