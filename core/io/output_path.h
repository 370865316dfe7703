// Checks an output path before any work: its folder exists, it is not a folder itself, and it is
// none of the inputs (the same file after resolving links, also through another spelling), so a
// merge or conversion can never overwrite what it reads. Violations are the user's to fix:
// InvalidArgument (exit code 2), naming the path.
#pragma once

#include <string>
#include <vector>

namespace ms::core::io {

void checkOutputPath(const std::string& output, const std::vector<std::string>& inputs);

}  // namespace ms::core::io
