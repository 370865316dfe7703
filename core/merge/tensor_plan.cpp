#include "core/merge/tensor_plan.h"

#include <algorithm>
#include <regex>

#include "core/errors.h"
#include "core/io/compatibility.h"

namespace ms::core::merge {

const char* const kDefaultHeadPattern = R"((^|\.)(head|heads|classifier|fc_head|lm_head|decoder)(\.|$))";
const char* const kBlockPattern = R"((^|\.)(blocks|layers|layer|resblocks|h|block)\.(\d+)\.)";

namespace {
std::vector<std::regex> compile(const std::vector<std::string>& patterns, const char* what) {
    std::vector<std::regex> out;
    for (const auto& p : patterns) {
        try {
            out.emplace_back(p);
        } catch (const std::regex_error& e) {
            throw InvalidArgument(std::string(what) + " pattern '" + p + "' is not a valid regex: " + e.what());
        }
    }
    return out;
}

bool anyMatch(const std::vector<std::regex>& res, const std::string& s) {
    for (const auto& r : res)
        if (std::regex_search(s, r)) return true;
    return false;
}

std::uint64_t fnv1a(const std::string& s) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}
}  // namespace

int blockIndexOf(const std::string& name) {
    static const std::regex re(kBlockPattern);
    std::smatch m;
    if (!std::regex_search(name, m, re)) return -1;
    return std::stoi(m[3].str());
}

TensorPlan makePlan(const io::TensorSource& base, const std::vector<const io::TensorSource*>& experts,
                    const TensorFilter& filter) {
    const auto include = compile(filter.include, "include");
    auto exclude = compile(filter.exclude, "exclude");
    if (filter.excludeHeads) exclude.emplace_back(kDefaultHeadPattern);

    TensorPlan plan;
    io::CompatReport report;
    std::vector<const io::TensorInfo*> candidates;
    for (const auto& t : base.tensors()) {
        const bool wanted = io::isFloating(t.dtype) && (include.empty() || anyMatch(include, t.name)) &&
                            !anyMatch(exclude, t.name);
        if (!wanted) {
            plan.copied.push_back(t.name);
            continue;
        }
        bool ok = true;
        for (const auto* e : experts) {
            const auto* o = e->find(t.name);
            if (!o) {
                report.issues.push_back({e->path(), t.name, io::CompatKind::Missing, io::Severity::Error,
                                         "in the base " + base.path() + " but not in this file"});
                ok = false;
            } else if (o->shape != t.shape) {
                report.issues.push_back({e->path(), t.name, io::CompatKind::ShapeMismatch, io::Severity::Error,
                                         "shape differs from the base's"});
                ok = false;
            } else if (!io::isFloating(o->dtype)) {
                report.issues.push_back({e->path(), t.name, io::CompatKind::DTypeMismatch, io::Severity::Error,
                                         "not a floating tensor here"});
                ok = false;
            }
        }
        if (ok) candidates.push_back(&t);
    }
    if (!report.ok()) {
        report.tensorsChecked = base.tensors().size();
        throw MismatchError("the models do not fit the base (exclude tensors with --exclude REGEX "
                            "to merge the rest):\n" + report.format());
    }
    std::sort(candidates.begin(), candidates.end(), [](auto* a, auto* b) { return a->name < b->name; });
    for (const auto* t : candidates) {
        PlannedTensor p;
        p.name = t->name;
        p.shape = t->shape;
        p.numel = t->numel;
        p.rowLength = t->shape.size() >= 2 && t->shape[0] > 0 ? t->numel / static_cast<std::uint64_t>(t->shape[0])
                                                              : std::max<std::uint64_t>(1, t->numel);
        p.flatOffset = plan.mergedElements;
        p.block = blockIndexOf(t->name);
        p.nameHash = fnv1a(t->name);
        p.baseDtype = t->dtype;
        plan.mergedElements += t->numel;
        plan.blockCount = std::max(plan.blockCount, p.block + 1);
        plan.merged.push_back(std::move(p));
    }
    for (auto& p : plan.merged)
        if (p.block >= 0) p.depth = plan.blockCount <= 1 ? 1.0 : static_cast<double>(p.block) / (plan.blockCount - 1);
    for (const auto* e : experts)
        for (const auto& t : e->tensors())
            if (!base.find(t.name) &&
                std::find(plan.ignored.begin(), plan.ignored.end(), t.name) == plan.ignored.end())
                plan.ignored.push_back(t.name);
    return plan;
}

}  // namespace ms::core::merge
