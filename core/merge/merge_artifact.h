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

// What a method declares about an artifact it produces (merge::MethodInfo::artifacts).
struct ArtifactSpec {
    enum class Kind { Curve, Matrix };
    std::string key;    // the key in Artifacts ("loss", "coefficients", ...)
    Kind kind = Kind::Curve;
    std::string title;  // "learned coefficient λ per task and tensor"
    std::string valueLabel;  // a curve's y axis ("Σ entropy")
    // A curve made of equally long stages, one per row of the method's matrix (CALM adds one task
    // per stage): plots mark the stage boundaries.
    bool stagedByMatrixRows = false;
};

}  // namespace ms::core::merge
