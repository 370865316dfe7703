// Progress on stderr: on a terminal, a bar redrawn at most ~10 times a second; otherwise (a log
// file, CI, `| tee`) one plain line every few seconds, so that long commands never look hung.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "core/jobs/progress.h"

namespace ms::cli {

class TerminalProgress final : public core::ProgressSink {
public:
    TerminalProgress();
    ~TerminalProgress() override;
    void report(const std::string& stage, std::uint64_t done, std::uint64_t total) override;

    // Seconds between plain lines when stderr is not a terminal (MERGESCOPE_PROGRESS_SECONDS overrides).
    static constexpr int kLineSeconds = 5;

private:
    bool m_terminal;
    bool m_drawn = false;
    std::chrono::milliseconds m_interval;
    std::mutex m_mutex;
    std::chrono::steady_clock::time_point m_last;
};

}  // namespace ms::cli
