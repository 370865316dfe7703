// Human and machine forms of an experiment's sweeps: tables, a small text plot of proxy and
// downstream against the swept parameter, the proxy-quality summary; JSON and CSV.
#pragma once

#include <ostream>

#include "core/store/experiment.h"

namespace ms::cli {

// `against`: what the proxy-quality summary judges the proxy against (ΔMTL by default).
using core::store::DownstreamAggregate;
void printSweepReport(std::ostream& out, const core::store::SweepRecord& sweep, DownstreamAggregate against = DownstreamAggregate::DeltaMtl);
// {"sweeps": [{"id", "kind", "method", "status", "tasks", "points": [{"params", "proxy", "downstream", "seconds"}],
//  "summary": {...}}]} — fields absent when not computed.
void printJsonReport(std::ostream& out, const core::store::Experiment& experiment, DownstreamAggregate against = DownstreamAggregate::DeltaMtl);
// One row per point of every sweep.
void printCsvReport(std::ostream& out, const core::store::Experiment& experiment);

}  // namespace ms::cli
