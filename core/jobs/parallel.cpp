#include "core/jobs/parallel.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ms::core {

namespace {
std::atomic<unsigned> g_threads{0};
}  // namespace

unsigned workerThreads() {
    if (const unsigned set = g_threads.load()) return set;
    static const unsigned n = [] {
        if (const char* env = std::getenv("MS_THREADS")) {
            const int v = std::atoi(env);
            if (v > 0) return static_cast<unsigned>(v);
        }
        return std::max(1u, std::thread::hardware_concurrency());
    }();
    return n;
}

void useThreads(unsigned n) {
    if (n == 0) return;
    g_threads.store(n);
    using Set = void (*)(int);
    if (auto set = reinterpret_cast<Set>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(static_cast<int>(n));
}

void parallelFor(std::size_t n, std::size_t minPerThread,
                 const std::function<void(unsigned, std::size_t, std::size_t)>& fn) {
    if (n == 0) return;
    const std::size_t want = std::max<std::size_t>(1, n / std::max<std::size_t>(1, minPerThread));
    const unsigned threads = static_cast<unsigned>(std::min<std::size_t>(workerThreads(), want));
    if (threads <= 1) {
        fn(0, 0, n);
        return;
    }
    std::exception_ptr error;
    std::mutex m;
    std::vector<std::thread> pool;
    const std::size_t step = (n + threads - 1) / threads;
    for (unsigned t = 1; t < threads; ++t) {
        const std::size_t b = std::min(n, t * step), e = std::min(n, b + step);
        pool.emplace_back([&, t, b, e] {
            try {
                fn(t, b, e);
            } catch (...) {
                std::lock_guard<std::mutex> lock(m);
                if (!error) error = std::current_exception();
            }
        });
    }
    try {
        fn(0, 0, std::min(n, step));
    } catch (...) {
        std::lock_guard<std::mutex> lock(m);
        if (!error) error = std::current_exception();
    }
    for (auto& th : pool) th.join();
    if (error) std::rethrow_exception(error);
}

void parallelEach(std::size_t n, const std::function<void(unsigned, std::size_t)>& fn) {
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex m;
    const auto work = [&](unsigned t) {
        for (std::size_t i; !failed.load() && (i = next.fetch_add(1)) < n;) {
            try {
                fn(t, i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(m);
                if (!error) error = std::current_exception();
                failed = true;
            }
        }
    };
    const unsigned threads = static_cast<unsigned>(std::min<std::size_t>(workerThreads(), n));
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
    work(0);
    for (auto& th : pool) th.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace ms::core
