// Splitting loops across the machine's cores. Plain std::thread: no pool to configure, and the
// loops it runs are long (a tensor's chunks), so thread start-up is noise.
#pragma once

#include <cstddef>
#include <functional>

namespace ms::core {

// Number of worker threads core uses (useThreads, else MS_THREADS, else the hardware threads).
unsigned workerThreads();
// --threads N: core's loops and OpenBLAS's pool (the merge, the proxy's and LibTorch's float32
// matrix products) use N threads from now on. 0 leaves the defaults.
void useThreads(unsigned n);

// Calls fn(thread, begin, end) on disjoint ranges covering [0, n), in parallel when n is at least
// `minPerThread` per thread. `thread` is in [0, workerThreads()). Exceptions from any range are
// rethrown (the first one) after all threads finish.
void parallelFor(std::size_t n, std::size_t minPerThread,
                 const std::function<void(unsigned thread, std::size_t begin, std::size_t end)>& fn);

// fn(thread, i) for every i in [0, n), each index taken by the next free thread in index order
// (items of uneven cost: put the longest first). The first exception stops the hand-out and is
// rethrown once every running item has returned.
void parallelEach(std::size_t n, const std::function<void(unsigned thread, std::size_t i)>& fn);

}  // namespace ms::core
