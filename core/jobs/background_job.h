// Runs one long operation on a worker thread of its own, with a cancel token it can poll. The
// exception the operation ends with (Cancelled included) is kept and rethrown by wait(), on the
// caller's thread: nothing crosses a thread boundary unhandled.
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <thread>

#include "core/jobs/progress.h"

namespace ms::core {

class BackgroundJob {
public:
    using Work = std::function<void(const CancelToken&)>;
    explicit BackgroundJob(Work work);
    ~BackgroundJob();  // cancels and joins
    BackgroundJob(const BackgroundJob&) = delete;
    BackgroundJob& operator=(const BackgroundJob&) = delete;

    void cancel() { m_cancel.cancel(); }
    CancelToken& token() { return m_cancel; }
    bool finished() const { return m_finished.load(std::memory_order_acquire); }
    // Joins; rethrows the operation's exception, if any.
    void wait();

private:
    CancelToken m_cancel;
    std::atomic<bool> m_finished{false};
    std::exception_ptr m_error;
    std::thread m_thread;
};

}  // namespace ms::core
