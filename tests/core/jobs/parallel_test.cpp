#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <mutex>
#include <set>
#include <stdexcept>
#include <vector>

#include "core/jobs/parallel.h"

namespace ms::core {
namespace {

TEST(ParallelEach, RunsEveryIndexOnceInHandOutOrder) {
    for (std::size_t n : {0u, 1u, 5u, 97u}) {
        std::vector<std::atomic<int>> runs(n);
        std::mutex m;
        std::set<unsigned> threads;
        std::vector<std::size_t> started;
        parallelEach(n, [&](unsigned t, std::size_t i) {
            runs[i]++;
            std::lock_guard<std::mutex> g(m);
            threads.insert(t);
            started.push_back(i);
        });
        for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(runs[i].load(), 1) << i;
        EXPECT_LE(threads.size(), std::max<std::size_t>(1, std::min<std::size_t>(n, workerThreads())));
        // Handed out in index order: an item starts only after every lower index was taken.
        for (std::size_t k = 0; k < started.size(); ++k) EXPECT_LE(started[k], k + workerThreads()) << k;
    }
}

TEST(ParallelEach, TheFirstErrorStopsTheHandOutAndIsRethrown) {
    // The first item fails at once; the others take a millisecond each (1 s in all): the hand-out
    // stops long before the end.
    std::atomic<int> ran{0};
    EXPECT_THROW(parallelEach(1000,
                              [&](unsigned, std::size_t i) {
                                  ++ran;
                                  if (i == 0) throw std::runtime_error("item 0");
                                  std::this_thread::sleep_for(std::chrono::milliseconds(1));
                              }),
                 std::runtime_error);
    EXPECT_LT(ran.load(), 1000);
}

}  // namespace
}  // namespace ms::core

namespace ms::core {
namespace {

// --threads N: core's loops take N threads (each index handed to one of them).
TEST(Parallel, UseThreadsSetsTheWorkerCount) {
    const unsigned before = workerThreads();
    useThreads(3);
    EXPECT_EQ(workerThreads(), 3u);
    parallelEach(30, [&](unsigned thread, std::size_t) { EXPECT_LT(thread, 3u); });
    useThreads(0);  // leaves it as it is
    EXPECT_EQ(workerThreads(), 3u);
    useThreads(before);
    EXPECT_EQ(workerThreads(), before);
}

}  // namespace
}  // namespace ms::core
