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

}  // namespace ms::core::merge
