#include "core/jobs/background_job.h"

#include <utility>

namespace ms::core {

BackgroundJob::BackgroundJob(Work work)
    : m_thread([this, work = std::move(work)] {
          try {
              work(m_cancel);
          } catch (...) {
              m_error = std::current_exception();
          }
          m_finished.store(true, std::memory_order_release);
      }) {}

BackgroundJob::~BackgroundJob() {
    cancel();
    if (m_thread.joinable()) m_thread.join();
}

void BackgroundJob::wait() {
    if (m_thread.joinable()) m_thread.join();
    if (m_error) std::rethrow_exception(std::exchange(m_error, nullptr));
}

}  // namespace ms::core
