#include "core/io/pickled_module.h"

#include <algorithm>

#include "core/errors.h"

namespace ms::core::io::pickle {

namespace {

const Object* entry(const Object* dict, std::string_view key) {
    if (!dict || dict->kind != Kind::Dict) return nullptr;
    for (const auto& [k, v] : dict->entries)
        if (k->kind == Kind::String && k->text == key) return v;
    return nullptr;
}

bool setHolds(const Object* set, std::string_view name) {
    if (!set || (set->kind != Kind::Set && set->kind != Kind::List && set->kind != Kind::Tuple))
        return false;
    return std::any_of(set->items.begin(), set->items.end(),
                       [&](const Object* i) { return i->kind == Kind::String && i->text == name; });
}

void walk(const std::string& path, const Object* module, const std::string& prefix, int depth,
          int maxDepth, const std::function<void(const std::string&, const Object*)>& visit) {
    if (depth > maxDepth)
        throw FormatError(path, "pickled modules nest deeper than " + std::to_string(maxDepth) +
                                    " levels (a cycle?) at '" + prefix + "'");
    auto each = [&](const Object* dict, auto&& fn) {
        if (!dict || dict->kind != Kind::Dict) return;
        for (const auto& [k, v] : dict->entries)
            if (k->kind == Kind::String && v->kind != Kind::None) fn(k->text, v);
    };
    each(attribute(module, "_parameters"),
         [&](const std::string& name, const Object* v) { visit(prefix + name, v); });
    const Object* nonPersistent = attribute(module, "_non_persistent_buffers_set");
    each(attribute(module, "_buffers"), [&](const std::string& name, const Object* v) {
        if (!setHolds(nonPersistent, name)) visit(prefix + name, v);
    });
    each(attribute(module, "_modules"), [&](const std::string& name, const Object* child) {
        if (isModule(child)) walk(path, child, prefix + name + ".", depth + 1, maxDepth, visit);
    });
}

}  // namespace

const Object* attribute(const Object* o, std::string_view name) {
    if (!o || o->kind != Kind::Instance) return nullptr;
    for (const auto& [k, v] : o->entries)
        if (k->kind == Kind::String && k->text == name) return v;
    return nullptr;
}

bool isModule(const Object* o) {
    const Object* modules = attribute(o, "_modules");
    return modules && modules->kind == Kind::Dict;
}

const Object* moduleMember(const Object* module, std::string_view name) {
    if (!isModule(module)) return nullptr;
    for (const char* dict : {"_modules", "_parameters", "_buffers"}) {
        const Object* v = entry(attribute(module, dict), name);
        if (v && v->kind != Kind::None) return v;
    }
    return nullptr;
}

void forEachStateEntry(const std::string& path, const Object* module, const std::string& prefix,
                       int maxDepth,
                       const std::function<void(const std::string&, const Object*)>& visit) {
    walk(path, module, prefix, 0, maxDepth, visit);
}

}  // namespace ms::core::io::pickle
