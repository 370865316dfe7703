// Progress reporting and cooperative cancellation for long operations. Plain C++ so that the
// CLI, the GUI's worker threads and the tests share one interface.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace ms::core {

// Set from any thread; long operations poll it at check points and throw Cancelled.
class CancelToken {
public:
    void cancel() { m_cancelled.store(true, std::memory_order_relaxed); }
    bool isCancelled() const { return m_cancelled.load(std::memory_order_relaxed); }
    void throwIfCancelled() const;  // throws ms::core::Cancelled

private:
    std::atomic<bool> m_cancelled{false};
};

// Receives progress from a worker thread. Implementations must be cheap and thread-safe; the
// GUI adapter throttles to ~20 Hz, the CLI draws a bar when stderr is a terminal.
class ProgressSink {
public:
    virtual ~ProgressSink() = default;
    // done/total in arbitrary units (bytes, tensors, points); stage names the current step.
    virtual void report(const std::string& stage, std::uint64_t done, std::uint64_t total) = 0;
};

// A sink that discards everything (default argument for callers that do not care).
ProgressSink& nullProgress();

// Adapts a lambda into a sink.
class CallbackProgress : public ProgressSink {
public:
    using Fn = std::function<void(const std::string&, std::uint64_t, std::uint64_t)>;
    explicit CallbackProgress(Fn fn) : m_fn(std::move(fn)) {}
    void report(const std::string& stage, std::uint64_t done, std::uint64_t total) override {
        m_fn(stage, done, total);
    }

private:
    Fn m_fn;
};

}  // namespace ms::core
