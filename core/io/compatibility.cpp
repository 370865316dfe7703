#include "core/io/compatibility.h"

#include <cmath>
#include <cstring>
#include <map>
#include <sstream>

namespace ms::core::io {

namespace {
std::string shapeText(const std::vector<std::int64_t>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

void checkFinite(const TensorSource& src, CompatReport& report, const CancelToken* cancel) {
    for (const auto& t : src.tensors()) {
        if (!isFloating(t.dtype)) continue;
        if (cancel) cancel->throwIfCancelled();
        const TensorData d = src.load(t.name);
        const auto bad = countNonFinite(t.dtype, d.data(), t.numel);
        if (bad > 0)
            report.issues.push_back({src.path(), t.name, CompatKind::NonFinite, Severity::Error,
                                     std::to_string(bad) + " of " + std::to_string(t.numel) +
                                         " values are NaN or infinite"});
    }
}
}  // namespace

std::uint64_t countNonFinite(DType dtype, const std::byte* data, std::uint64_t numel) {
    std::uint64_t bad = 0;
    switch (dtype) {
        case DType::F32:
            for (std::uint64_t i = 0; i < numel; ++i) {
                std::uint32_t b;
                std::memcpy(&b, data + 4 * i, 4);
                bad += (b & 0x7f800000u) == 0x7f800000u;
            }
            break;
        case DType::F64:
            for (std::uint64_t i = 0; i < numel; ++i) {
                std::uint64_t b;
                std::memcpy(&b, data + 8 * i, 8);
                bad += (b & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
            }
            break;
        case DType::F16:
        case DType::BF16: {
            const std::uint16_t mask = dtype == DType::F16 ? 0x7c00u : 0x7f80u;
            for (std::uint64_t i = 0; i < numel; ++i) {
                std::uint16_t b;
                std::memcpy(&b, data + 2 * i, 2);
                bad += (b & mask) == mask;
            }
            break;
        }
        default: break;
    }
    return bad;
}

std::string_view compatKindName(CompatKind k) {
    switch (k) {
        case CompatKind::Missing: return "missing";
        case CompatKind::Extra: return "extra";
        case CompatKind::ShapeMismatch: return "shape mismatch";
        case CompatKind::DTypeMismatch: return "dtype mismatch";
        case CompatKind::NonFinite: return "non-finite values";
    }
    return "?";
}

std::size_t CompatReport::errorCount() const {
    std::size_t n = 0;
    for (const auto& i : issues) n += i.severity == Severity::Error;
    return n;
}

std::string CompatReport::format() const {
    if (issues.empty()) return {};
    std::map<std::string, std::vector<const CompatIssue*>> byFile;
    std::vector<std::string> order;
    for (const auto& i : issues) {
        if (!byFile.count(i.file)) order.push_back(i.file);
        byFile[i.file].push_back(&i);
    }
    std::ostringstream out;
    for (const auto& f : order) {
        out << f << ":\n";
        for (const auto* i : byFile[f])
            out << "  " << (i->severity == Severity::Error ? "error  " : "warning") << "  "
                << i->tensor << ": " << compatKindName(i->kind) << " (" << i->detail << ")\n";
    }
    out << errorCount() << " error(s), " << issues.size() - errorCount() << " warning(s) in "
        << tensorsChecked << " tensors checked\n";
    return out.str();
}

CompatReport checkCompatibility(const TensorSource& base,
                                const std::vector<const TensorSource*>& experts,
                                const CompatOptions& options, ProgressSink& progress,
                                const CancelToken* cancel) {
    CompatReport r;
    r.tensorsChecked = base.tensors().size();
    for (const TensorSource* e : experts) {
        for (const auto& t : base.tensors()) {
            const TensorInfo* o = e->find(t.name);
            if (!o) {
                r.issues.push_back({e->path(), t.name, CompatKind::Missing, Severity::Error,
                                    "in the base " + base.path() + " but not in this file"});
                continue;
            }
            if (o->shape != t.shape)
                r.issues.push_back({e->path(), t.name, CompatKind::ShapeMismatch, Severity::Error,
                                    "base " + shapeText(t.shape) + ", here " + shapeText(o->shape)});
            else if (o->dtype != t.dtype)
                r.issues.push_back({e->path(), t.name, CompatKind::DTypeMismatch, Severity::Warning,
                                    "base " + std::string(dtypeName(t.dtype)) + ", here " +
                                        std::string(dtypeName(o->dtype)) + "; merged in float32"});
        }
        for (const auto& o : e->tensors())
            if (!base.find(o.name))
                r.issues.push_back({e->path(), o.name, CompatKind::Extra, Severity::Warning,
                                    "not in the base; not merged (a task head?)"});
    }
    if (options.checkFinite) {
        std::uint64_t done = 0;
        const std::uint64_t total = experts.size() + 1;
        checkFinite(base, r, cancel);
        progress.report("checking values", ++done, total);
        for (const TensorSource* e : experts) {
            checkFinite(*e, r, cancel);
            progress.report("checking values", ++done, total);
        }
    }
    return r;
}

}  // namespace ms::core::io
