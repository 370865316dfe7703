// `kit check` as plain values (no torch: the workbench's New kit dialog shows it inline): what a
// kit's tasks can score, the experts' own scores, and every problem found, each naming the file
// (and tensor or image) and the reason. Implemented with the suite loader (kit_suite.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/jobs/progress.h"

namespace ms::core::eval {

struct TaskReport {
    std::string name, type, metric, dataset, head;
    std::int64_t images = 0, evalImages = 0;
    bool labelled = false;  // the probe images have labels (re-alignment can use them)
    bool proxy = false, frozen = false, headRealign = false, reprRealign = false;
    double expertScore = 0;  // NaN when not available
    bool higherIsBetter = true;
    std::vector<std::string> notes;  // why a score is not available
};

struct KitReport {
    std::string kit, name, layout, prefix, architecture, preprocess;
    std::vector<std::string> problems;  // each names the file (and tensor or image) and the reason
    std::vector<TaskReport> tasks;
    bool ok() const { return problems.empty(); }
};

struct CheckOptions {
    // The draws a sweep would make (evalLimit bounds the expert scores' cost; 0: every image).
    int probeSize = 128, realignSamples = 1000, evalLimit = 0;
    std::uint64_t seed = 0;
    bool scores = true;        // score each expert (decodes its eval images; encoder forwards)
    int maxImageProblems = 5;  // per image source
    std::string downstream;    // a downstream mode to check for (head-realign needs labels); empty: none
};

KitReport checkKit(const std::string& kitFile, const CheckOptions& options, ProgressSink& progress = nullProgress(),
                   const CancelToken* cancel = nullptr);
std::string kitReportJson(const KitReport& report);
std::string kitReportText(const KitReport& report);

}  // namespace ms::core::eval
