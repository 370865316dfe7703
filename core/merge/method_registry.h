// All merge methods by name. The CLI's `methods` command, recipes and the GUI's strategy panel
// read their parameter declarations from here.
#pragma once

#include <string>
#include <vector>

#include "core/merge/merge_method.h"

namespace ms::core::merge {

const std::vector<const MergeMethod*>& allMethods();
// Throws InvalidArgument listing the known methods.
const MergeMethod& findMethod(const std::string& name);
// The method of that name, or nullptr (a file written by a newer version may name one this
// build does not have).
const MergeMethod* lookupMethod(const std::string& name);

// What a method that learns from data (needsKit) says when it has no kit: "... give --kit ...".
std::string needsKitMessage(const std::string& method);

}  // namespace ms::core::merge
