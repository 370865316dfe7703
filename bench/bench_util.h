// A small benchmark harness: best-of-N wall time, throughput and a ratio to a floor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ms::bench {

// Best wall time in seconds over `reps` runs of fn.
double bestSeconds(int reps, const std::function<void()>& fn);

// Prints "name  GB/s  time  ratio-to-floor" (ratio = time / floorTime; 1.0 = as fast as the floor).
void report(const std::string& name, std::uint64_t bytes, double seconds, double floorSeconds);
void header(const std::string& title);

// Peak resident set size of this process so far, in MiB.
double peakRssMiB();

// A program run as a child process: its wall time and peak RSS (wait4's ru_maxrss), with `env`
// set in the child and its output discarded; ok false when it did not exit 0.
struct ChildRun {
    double seconds = 0;
    double peakMiB = 0;
    bool ok = false;
};
ChildRun runChild(const std::string& program, const std::vector<std::string>& args,
                  const std::vector<std::pair<std::string, std::string>>& env = {});

// Keeps a value alive so the compiler cannot drop the work that made it.
void sink(double v);

}  // namespace ms::bench
