#include "app/cli/terminal_progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace ms::cli {

namespace {
// MERGESCOPE_PROGRESS_SECONDS overrides the interval of plain lines (tests, chatty logs).
std::chrono::milliseconds lineInterval() {
    const char* env = std::getenv("MERGESCOPE_PROGRESS_SECONDS");
    if (env && *env) {
        char* end = nullptr;
        const double s = std::strtod(env, &end);
        if (*end == '\0' && s >= 0) return std::chrono::milliseconds(static_cast<long long>(s * 1000));
    }
    return std::chrono::seconds(TerminalProgress::kLineSeconds);
}
}  // namespace

TerminalProgress::TerminalProgress()
    : m_terminal(::isatty(STDERR_FILENO) == 1), m_interval(lineInterval()), m_last(std::chrono::steady_clock::now()) {}

TerminalProgress::~TerminalProgress() {
    if (m_drawn) std::fprintf(stderr, "\r\033[K");
}

void TerminalProgress::report(const std::string& stage, std::uint64_t done, std::uint64_t total) {
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto now = std::chrono::steady_clock::now();
    const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
    if (!m_terminal) {
        if (now - m_last < m_interval) return;
        m_last = now;
        std::fprintf(stderr, "%s: %.1f%%\n", stage.c_str(), 100.0 * frac);
        std::fflush(stderr);
        return;
    }
    if (done < total && now - m_last < std::chrono::milliseconds(100)) return;
    m_last = now;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r\033[K%-16s [%s] %5.1f%%", stage.c_str(), bar.c_str(), 100.0 * frac);
    std::fflush(stderr);
    m_drawn = true;
}

}  // namespace ms::cli
