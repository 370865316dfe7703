// A small benchmark harness: best-of-N wall time, throughput and a ratio to a floor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace ms::bench {

// Best wall time in seconds over `reps` runs of fn.
double bestSeconds(int reps, const std::function<void()>& fn);

// Prints "name  GB/s  time  ratio-to-floor" (ratio = time / floorTime; 1.0 = as fast as the floor).
void report(const std::string& name, std::uint64_t bytes, double seconds, double floorSeconds);
void header(const std::string& title);

// Peak resident set size of this process so far, in MiB.
double peakRssMiB();

// Keeps a value alive so the compiler cannot drop the work that made it.
void sink(double v);

}  // namespace ms::bench
