// A numeric array a merge produces beside the merged weights (learned methods: their loss curve,
// learned coefficients or mask densities), row-major with its shape. Experiments keep one set per
// sweep point (store::PointRecord::artifacts); merged files carry a summary in their metadata.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace ms::core::merge {

struct Artifact {
    std::vector<double> values;
    std::vector<std::size_t> shape;
    std::vector<std::string> rows, columns;  // labels of a matrix's rows and columns (optional)
};

using Artifacts = std::map<std::string, Artifact>;

}  // namespace ms::core::merge
