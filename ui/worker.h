// Runs one piece of core work on a worker thread: progress reaches the GUI thread as a signal,
// throttled to ~20 Hz; the outcome arrives as finished(ok, message) — exceptions never cross the
// thread boundary; cancel() reaches the work's CancelToken. The Worker deletes itself after
// finished() has been delivered. No processEvents anywhere.
#pragma once

#include <QObject>
#include <QString>
#include <QThreadPool>
#include <functional>
#include <memory>

#include "core/jobs/progress.h"

namespace ms::ui {

class Worker : public QObject {
    Q_OBJECT
public:
    using Work = std::function<void(core::ProgressSink& progress, const core::CancelToken& cancel)>;

    // Starts `work` on `pool` (the global pool when null). The returned object lives until
    // finished() has been emitted.
    static Worker* start(const QString& name, Work work, QObject* parent = nullptr, QThreadPool* pool = nullptr);

    const QString& name() const { return m_name; }
    bool isFinished() const { return m_finished; }

public slots:
    void cancel();

signals:
    void progress(const QString& stage, qulonglong done, qulonglong total);
    void finished(bool ok, const QString& message);  // message: "" when ok, "cancelled", or the error

private:
    explicit Worker(QString name, QObject* parent);
    QString m_name;
    std::shared_ptr<core::CancelToken> m_cancel;
    bool m_finished = false;
};

}  // namespace ms::ui
