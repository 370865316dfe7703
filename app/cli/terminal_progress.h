// A progress bar on stderr, drawn only when stderr is a terminal, at most ~10 times a second.
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

private:
    bool m_enabled;
    bool m_drawn = false;
    std::mutex m_mutex;
    std::chrono::steady_clock::time_point m_last{};
};

}  // namespace ms::cli
