#include "core/merge/method_registry.h"

#include "core/errors.h"
#include "core/merge/methods/methods.h"

namespace ms::core::merge {

namespace {
struct Registry {
    std::vector<std::unique_ptr<MergeMethod>> owned;
    std::vector<const MergeMethod*> view;
    Registry() {
        addInterpolationMethods(owned);
        addGtaMethods(owned);
        addMaskMethods(owned);
        addSubspaceMethods(owned);
        addPcbMethods(owned);
        addLearnedMethods(owned);
        for (const auto& m : owned) view.push_back(m.get());
    }
};
const Registry& registry() {
    static const Registry r;
    return r;
}
}  // namespace

const std::vector<const MergeMethod*>& allMethods() { return registry().view; }

const MergeMethod* lookupMethod(const std::string& name) {
    for (const MergeMethod* m : allMethods())
        if (m->info().name == name) return m;
    return nullptr;
}

const MergeMethod& findMethod(const std::string& name) {
    std::string known;
    for (const auto* m : allMethods()) {
        if (m->info().name == name) return *m;
        known += (known.empty() ? "" : ", ") + m->info().name;
    }
    throw InvalidArgument("unknown merge method '" + name + "' (known: " + known + ")");
}

}  // namespace ms::core::merge
