#include "ui/worker.h"

#include <QMetaObject>
#include <QPointer>
#include <QRunnable>
#include <atomic>
#include <chrono>
#include <mutex>

#include "core/errors.h"

namespace ms::ui {

namespace {

// Forwards progress to the GUI thread at most every 50 ms (and always the final report).
class ThrottledSink : public core::ProgressSink {
public:
    explicit ThrottledSink(QPointer<Worker> target) : m_target(std::move(target)) {}
    void report(const std::string& stage, std::uint64_t done, std::uint64_t total) override {
        const auto now = std::chrono::steady_clock::now();
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (done < total && now - m_last < std::chrono::milliseconds(50)) return;
            m_last = now;
        }
        QPointer<Worker> t = m_target;
        const QString s = QString::fromStdString(stage);
        QMetaObject::invokeMethod(
            t.data(), [t, s, done, total] {
                if (t) emit t->progress(s, done, total);
            },
            Qt::QueuedConnection);
    }

private:
    QPointer<Worker> m_target;
    std::mutex m_mutex;
    std::chrono::steady_clock::time_point m_last{};
};

}  // namespace

Worker::Worker(QString name, QObject* parent)
    : QObject(parent), m_name(std::move(name)), m_cancel(std::make_shared<core::CancelToken>()) {}

Worker* Worker::start(const QString& name, Work work, QObject* parent, QThreadPool* pool) {
    auto* w = new Worker(name, parent);
    QPointer<Worker> self(w);
    auto cancel = w->m_cancel;
    auto* runnable = QRunnable::create([self, cancel, work = std::move(work)] {
        ThrottledSink sink(self);
        bool ok = true;
        QString message;
        try {
            work(sink, *cancel);
        } catch (const core::Cancelled&) {
            ok = false;
            message = QStringLiteral("cancelled");
        } catch (const std::exception& e) {
            ok = false;
            message = QString::fromUtf8(e.what());
        } catch (...) {
            ok = false;
            message = QStringLiteral("unknown error");
        }
        QMetaObject::invokeMethod(
            self.data(), [self, ok, message] {
                if (!self) return;
                self->m_finished = true;
                emit self->finished(ok, message);
                self->deleteLater();
            },
            Qt::QueuedConnection);
    });
    (pool ? pool : QThreadPool::globalInstance())->start(runnable);
    return w;
}

void Worker::cancel() { m_cancel->cancel(); }

}  // namespace ms::ui
