// Where a running sweep stands, as values: the CLI's point lines and the workbench's queue read
// these fields (no text is parsed back).
#pragma once

#include <functional>
#include <string>

namespace ms::core::sweep {

struct SweepProgress {
    std::string sweepId;
    int done = 0, total = 0;  // points of the whole sweep (points done by an earlier run count)
    double etaSeconds = -1;   // remaining time at this run's pace; < 0 while unknown
    std::string stage;        // what the current point does: "merging", "proxy", "downstream (frozen)", "done"
};
using SweepProgressFn = std::function<void(const SweepProgress&)>;

// "sweep sweep-001: point 3/16, proxy": a progress bar's label.
std::string progressText(const SweepProgress& p);

// Remaining seconds after `done` of `total` points in `elapsedSeconds` (< 0 while unknown).
double etaSeconds(double elapsedSeconds, int done, int total);
// "42s", "3m05s", "2h10m"; "…" when unknown.
std::string etaText(double seconds);

}  // namespace ms::core::sweep
