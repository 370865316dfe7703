// The workbench's state and its long-running work, without widgets: the open kit (a
// KitSession), the experiment (always saved: to its file, or to an autosave file until "Save
// as"), the sweep queue (one sweep at a time, each point saved and shown as it completes; pause,
// resume, cancel), the interactive λ preview ("latest wins": the newest request runs next; a
// slow running one is cancelled), interference analysis and saving merged models. Everything heavy runs on worker threads
// (ui/worker.h); state changes happen on the GUI thread only and are announced by signals.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QThreadPool>
#include <QVector>
#include <deque>
#include <memory>
#include <optional>

#include "core/analysis/interference.h"
#include "core/session/kit_session.h"
#include "core/store/experiment.h"

namespace ms::ui {

class Worker;

enum class QueueState { Queued, Running, Paused, Done, Cancelled, Failed };
QString queueStateName(QueueState s);  // "queued", "running", ... (translated)

struct QueuedSweep {
    int id = 0;
    QString label;
    core::session::SweepJob job;
    QueueState state = QueueState::Queued;
    int done = 0, total = 0;
    double etaSeconds = -1;  // < 0: unknown
    QString stage;           // what the running point does
};

class Workbench : public QObject {
    Q_OBJECT
public:
    explicit Workbench(QObject* parent = nullptr);
    ~Workbench() override;

    // Kit
    void openKit(const QString& dir);    // asynchronous: kitLoaded() or kitFailed()
    void openKitNow(const QString& dir);  // blocking (command line --screenshot, tests); throws core::Error
    void buildDemoKit();                  // asynchronous, then opens it
    bool hasKit() const { return static_cast<bool>(m_session); }
    const core::session::KitSession* session() const { return m_session.get(); }
    QStringList taskNames() const;
    core::session::SessionOptions& sessionOptions() { return m_options; }

    // Experiment
    const core::store::Experiment& experiment() const { return m_experiment; }
    QString experimentPath() const { return m_path; }
    bool isAutosave() const { return m_autosave; }
    void newExperiment();
    bool openExperiment(const QString& path, QString* error);
    bool saveExperimentAs(const QString& path, QString* error);

    // Sweeps
    int queueSweep(const core::session::SweepJob& job, const QString& label);
    const std::deque<QueuedSweep>& queue() const { return m_queue; }
    bool sweepRunning() const { return m_sweepWorker != nullptr; }
    void pauseSweeps();   // stops the running sweep within its point; it resumes from the file later
    void resumeSweeps();
    void cancelSweeps();  // stops the running sweep and drops the queue

    // Encoder precision (the workbench's preference, kept in QSettings "encoderPrecision"): "kit"
    // (the kit's `precision:`, fp32 without one), "fp32", "bf16" or "auto". Process-wide, so it is
    // refused (false, a message says why) while a sweep runs; an open kit is reopened under it
    // (its expert scores and features are kept per precision). `note`: auto's measurement.
    bool setEncoderPrecision(const QString& choice, bool reopen = true);
    QString encoderPrecision() const { return m_precision; }

    // Interactive preview
    void requestLive(const core::merge::MergeSpec& settings);
    bool liveBusy() const { return m_liveWorker != nullptr; }

    // Analysis and export
    void analyzeInterference();
    const std::optional<core::analysis::InterferenceReport>& interference() const { return m_interference; }
    const std::optional<core::analysis::SpectrumReport>& spectra() const { return m_spectra; }
    // Writes the merged model of `settings` (the Strategy panel's) or of a computed sweep point
    // (number from 1, as `report` and the Results table number it) — the same core function as
    // `mergescope-cli merge` and `merge --experiment`. Asynchronous; a message says how it went.
    void saveMerged(const core::merge::MergeSpec& settings, const QString& path);
    void savePoint(const QString& sweepId, int pointNumber, const QString& path);

signals:
    void kitLoaded();
    void kitFailed(const QString& message);
    void busy(const QString& what, qulonglong done, qulonglong total);  // the kit/analysis/save job's progress
    void idle();
    void experimentChanged();  // a new, opened or grown experiment
    void queueChanged();
    // The live score on every live probe image; estimateSeconds: when its first estimate came (0: none).
    void liveResult(const QVector<double>& perTask, double mean, double min, double seconds, double estimateSeconds);
    // A first estimate from `images` of `total` probe images per data set, with standard errors
    // (SessionOptions::liveEstimateSeconds), before liveResult for the same value.
    void liveEstimate(const QVector<double>& perTask, const QVector<double>& errors, double mean, double meanError, int images,
                      int total, double seconds);
    // The dense tasks' predictions on one eval image with the live merge (after liveResult).
    void livePreview(std::vector<core::session::DensePreview> previews);
    void interferenceReady();
    void message(const QString& level, const QString& text);  // "info" | "warning" | "error"

private:
    void startNextSweep();
    void applySweepUpdate(int queueId, const core::session::SweepUpdate& update);
    void runJob(const QString& name, std::function<void(core::ProgressSink&, const core::CancelToken&)> work,
                std::function<void(bool, const QString&)> done);
    void startLive(const core::merge::MergeSpec& settings);
    void writeMergedJob(std::function<core::merge::MergeSpec()> settings, const QString& path,
                        std::optional<core::sweep::DataOptions> learnedOn,
                        std::map<std::string, std::string> metadata);
    QString autosavePath() const;

    QThreadPool m_pool;
    QString m_precision = QStringLiteral("kit");
    core::session::SessionOptions m_options;
    std::shared_ptr<core::session::KitSession> m_session;
    core::store::Experiment m_experiment;
    QString m_path;
    bool m_autosave = true;
    std::deque<QueuedSweep> m_queue;
    int m_nextSweepId = 1;
    bool m_paused = false;
    Worker* m_sweepWorker = nullptr;
    Worker* m_liveWorker = nullptr;
    std::optional<core::merge::MergeSpec> m_livePending;
    QElapsedTimer m_liveClock;                       // since the running preview started
    bool m_liveEstimated = false;                    // the running preview has shown its estimate (it is refining)
    static constexpr qint64 kLiveCancelAfterMs = 250;  // a preview running longer is cancelled for a newer value
    std::optional<core::analysis::InterferenceReport> m_interference;
    std::optional<core::analysis::SpectrumReport> m_spectra;
};

}  // namespace ms::ui
