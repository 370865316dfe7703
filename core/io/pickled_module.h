// A whole pickled torch.nn.Module (torch.save(module)) as the restricted unpickler reads it: an
// Instance placeholder whose attributes are the module's __dict__. Walks it the way
// module.state_dict() names its tensors, without running anything of the module's class.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/io/pickle_reader.h"

namespace ms::core::io::pickle {

// An Instance's attribute `name` (from its BUILD state); nullptr when absent or not an Instance.
const Object* attribute(const Object* o, std::string_view name);

// Whether `o` is a pickled nn.Module: an Instance whose attributes hold a `_modules` dict.
bool isModule(const Object* o);

// A module's child as a dotted state_dict() path steps into it: a submodule, parameter or
// buffer; nullptr when there is none (or it is None).
const Object* moduleMember(const Object* module, std::string_view name);

// Calls visit(name, value) for each entry of module.state_dict(), in its order: the module's
// parameters, then its buffers except the non-persistent ones, then each submodule's entries
// under "child." (None values are skipped, as state_dict skips them). Names start with
// `prefix` (empty, or ending in '.'). `value` is usually a Tensor; the caller decides what to
// do with anything else. Throws FormatError naming `path` when modules nest deeper than
// `maxDepth` (a cycle).
void forEachStateEntry(const std::string& path, const Object* module, const std::string& prefix,
                       int maxDepth,
                       const std::function<void(const std::string&, const Object*)>& visit);

}  // namespace ms::core::io::pickle
