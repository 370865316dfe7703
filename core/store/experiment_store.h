// The experiment file: one HDF5 file per experiment, schema in docs/experiment-file.md.
//
// Every save writes the whole experiment to a temporary file beside the target, fsyncs it and
// renames it over the target, so the file on disk is always a complete, closed HDF5 file: a
// writer killed at any moment (kill -9 included) leaves the previous save intact. Experiments
// are small (a point is a few hundred bytes), so a save costs milliseconds.
#pragma once

#include <string>

#include "core/store/experiment.h"

namespace ms::core::store {

inline constexpr int kSchemaVersion = 1;
inline constexpr const char* kFormatName = "mergescope-experiment";

// Throws IoError (cannot open), FormatError (not an experiment file, corrupt, or written by a
// newer schema — the message says which version this build reads).
Experiment readExperiment(const std::string& path);

// Atomic; throws OutputError.
void writeExperiment(const std::string& path, const Experiment& experiment);

}  // namespace ms::core::store
