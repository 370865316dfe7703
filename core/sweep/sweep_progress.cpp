#include "core/sweep/sweep_progress.h"

#include <cstdio>

namespace ms::core::sweep {

double etaSeconds(double elapsed, int done, int total) {
    if (total <= done) return 0;
    if (done <= 0) return -1;
    return elapsed / done * (total - done);
}

std::string etaText(double left) {
    if (left < 0) return "…";
    char buf[32];
    if (left < 60) std::snprintf(buf, sizeof buf, "%.0fs", left);
    else if (left < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(left) / 60, static_cast<int>(left) % 60);
    else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(left) / 3600, static_cast<int>(left) % 3600 / 60);
    return buf;
}

std::string progressText(const SweepProgress& p) {
    return "sweep " + p.sweepId + ": point " + std::to_string(p.done + 1) + "/" + std::to_string(p.total) + ", " + p.stage;
}

}  // namespace ms::core::sweep
