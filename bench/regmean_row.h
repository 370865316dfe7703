// RegMean's statistics on a loaded kit, for bench_sweep (demo kit) and bench_kit (ViT-B/32):
// images/s of the experts' forwards with the Gram hooks, from an empty statistics cache, against
// the bare forward of the same images (the floor), and the whole merge again with the cache warm.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/eval/task_batches.h"
#include "core/eval/task_suite.h"
#include "core/learned/learned_merge.h"

namespace ms::bench {

inline void regmeanRow(const core::eval::TaskSuite& suite, int examples) {
    namespace fs = std::filesystem;
    const fs::path cache = fs::temp_directory_path() / "mergescope-bench-statistics";
    fs::remove_all(cache);
    const char* before = std::getenv("XDG_CACHE_HOME");
    const std::string saved = before ? before : "";
    ::setenv("XDG_CACHE_HOME", cache.c_str(), 1);
    const auto seconds = [](auto&& fn) {
        const auto t0 = std::chrono::steady_clock::now();
        fn();
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    const core::merge::ParamValues params{{"examples", static_cast<double>(examples)}};
    const double cold = seconds([&] { (void)core::learned::runLearnedMerge(suite, "regmean", params); });
    const double warm = seconds([&] { (void)core::learned::runLearnedMerge(suite, "regmean", params); });
    // The floor: each expert's bare forward over the same number of its task's images, batch 32.
    std::size_t images = 0;
    const double bare = seconds([&] {
        at::NoGradGuard ng;
        for (const auto& g : suite.groups(&core::eval::SuiteTask::realign))
            for (std::size_t t : g.tasks) {
                const auto n = std::min<std::size_t>(static_cast<std::size_t>(examples), static_cast<std::size_t>(g.set->count));
                for (std::size_t b = 0; b < n; b += 32) {
                    std::vector<std::size_t> rows;
                    for (std::size_t i = b; i < std::min(n, b + 32); ++i) rows.push_back(i * static_cast<std::size_t>(g.set->count) / n);
                    (void)core::model::vitForward(suite.config(), suite.experts[t], core::eval::imagesToTensor(*g.set, rows));
                }
                images += n;
            }
    });
    const double n = static_cast<double>(images);
    std::printf("  %-34s %9.1f img/s  bare forward %7.1f img/s   ratio %5.2f  (merge with the statistics cached: %.2f s)\n",
                ("regmean, " + std::to_string(examples) + " images per task").c_str(), n / cold, n / bare, cold / bare, warm);
    if (before) ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
    else ::unsetenv("XDG_CACHE_HOME");
    fs::remove_all(cache);
}

}  // namespace ms::bench
