#include "core/jobs/progress.h"

#include "core/errors.h"

namespace ms::core {

void CancelToken::throwIfCancelled() const {
    if (isCancelled()) throw Cancelled();
}

namespace {
class NullProgress final : public ProgressSink {
public:
    void report(const std::string&, std::uint64_t, std::uint64_t) override {}
};
}  // namespace

ProgressSink& nullProgress() {
    static NullProgress sink;
    return sink;
}

}  // namespace ms::core
