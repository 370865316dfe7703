#include "ui/workbench.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QMetaObject>
#include <QPointer>
#include <QStandardPaths>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/io/cache_paths.h"
#include "core/io/writer_lock.h"
#include "core/merge/merge_engine.h"
#include "core/model/precision.h"
#include "core/store/experiment_store.h"
#include "core/store/sweep_points.h"
#include "ui/worker.h"

namespace ms::ui {

using core::session::KitSession;

Workbench::Workbench(QObject* parent) : QObject(parent) {
    m_pool.setMaxThreadCount(4);  // a sweep, the live preview, one kit/analysis/save job
    m_options.featureCache = core::io::featureCacheDir();
    newExperiment();
}

Workbench::~Workbench() {
    m_queue.clear();
    if (m_sweepWorker) m_sweepWorker->cancel();
    if (m_liveWorker) m_liveWorker->cancel();
    m_pool.waitForDone();
}

QStringList Workbench::taskNames() const {
    QStringList out;
    if (m_session)
        for (const auto& t : m_session->taskNames()) out << QString::fromStdString(t);
    return out;
}

void Workbench::runJob(const QString& name, std::function<void(core::ProgressSink&, const core::CancelToken&)> work,
                       std::function<void(bool, const QString&)> done) {
    Worker* w = Worker::start(name, std::move(work), this, &m_pool);
    connect(w, &Worker::progress, this, [this, name](const QString& stage, qulonglong d, qulonglong t) {
        emit busy(name + QStringLiteral(": ") + stage, d, t);
    });
    connect(w, &Worker::finished, this, [this, done = std::move(done)](bool ok, const QString& msg) {
        emit idle();
        done(ok, msg);
    });
}

// ---- kit ----------------------------------------------------------------------------------

bool Workbench::setEncoderPrecision(const QString& choice, bool reopen) {
    if (sweepRunning()) {
        emit message(QStringLiteral("warning"), tr("encoder precision: not changed while a sweep runs (its points would mix precisions)"));
        return false;
    }
    QString note;
    try {
        if (choice == QStringLiteral("kit")) core::model::clearEncoderPrecisionChoice();
        else note = QString::fromStdString(core::model::setEncoderPrecision(core::model::parsePrecision(choice.toStdString())).note);
    } catch (const std::exception& e) {
        emit message(QStringLiteral("error"), tr("encoder precision: %1").arg(QString::fromUtf8(e.what())));
        return false;
    }
    m_precision = choice;
    emit message(QStringLiteral("info"), tr("encoder precision: %1%2").arg(choice == QStringLiteral("kit") ? tr("as the kit says") : choice,
                                                                           note.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(note)));
    if (reopen && m_session) openKit(QString::fromStdString(m_session->kitDir()));
    return true;
}

void Workbench::openKit(const QString& dir) {
    auto result = std::make_shared<std::shared_ptr<KitSession>>();
    const auto options = m_options;
    const std::string path = dir.toStdString();
    emit message(QStringLiteral("info"), tr("opening kit %1").arg(dir));
    runJob(
        tr("Opening kit"),
        [result, options, path](core::ProgressSink& p, const core::CancelToken& c) {
            *result = std::shared_ptr<KitSession>(KitSession::open(path, options, p, &c));
        },
        [this, result, dir](bool ok, const QString& msg) {
            if (!ok) {
                emit message(QStringLiteral("error"), tr("cannot open kit %1: %2").arg(dir, msg));
                emit kitFailed(msg);
                return;
            }
            m_session = *result;
            m_interference.reset();
            emit message(QStringLiteral("info"), tr("kit %1: %2").arg(dir, QString::fromStdString(m_session->architecture())));
            emit kitLoaded();
        });
}

void Workbench::openKitNow(const QString& dir) {
    m_session = std::shared_ptr<KitSession>(KitSession::open(dir.toStdString(), m_options));
    m_interference.reset();
    emit kitLoaded();
}

void Workbench::buildDemoKit() {
    auto dir = std::make_shared<std::string>();
    runJob(
        tr("Building the demo kit"),
        [dir](core::ProgressSink& p, const core::CancelToken& c) {
            *dir = core::session::buildDemoKit(core::io::demoKitDir(), 0, p, &c);
        },
        [this, dir](bool ok, const QString& msg) {
            if (!ok) {
                emit message(QStringLiteral("error"), tr("building the demo kit failed: %1").arg(msg));
                emit kitFailed(msg);
                return;
            }
            openKit(QString::fromStdString(*dir));
        });
}

// ---- experiment ---------------------------------------------------------------------------

QString Workbench::autosavePath() const {
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/autosave");
    QDir().mkpath(dir);
    return dir + QStringLiteral("/experiment-%1.h5").arg(QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss-zzz")));
}

void Workbench::newExperiment() {
    m_experiment = {};
    m_experiment.created = core::store::isoNow();
    m_path = autosavePath();
    m_autosave = true;
    emit experimentChanged();
}

bool Workbench::openExperiment(const QString& path, QString* error) {
    if (sweepRunning()) {
        if (error) *error = tr("a sweep is running: cancel it first");
        return false;
    }
    try {
        core::store::Experiment e = core::store::readExperiment(path.toStdString());
        m_experiment = std::move(e);
        m_path = path;
        m_autosave = false;
    } catch (const core::Error& e) {
        if (error) *error = QString::fromUtf8(e.what());
        return false;
    }
    emit message(QStringLiteral("info"), tr("opened %1 (%2 sweeps)").arg(path).arg(m_experiment.sweeps.size()));
    emit experimentChanged();
    // The experiment's kit, when it is not the one open.
    if (!m_experiment.inputs.empty() && (!m_session || m_session->baseHash() != m_experiment.inputs.front().hash)) {
        const QString kit = QString::fromStdString(m_experiment.kitDir);
        if (!kit.isEmpty() && QFileInfo::exists(kit)) openKit(kit);  // a kit file, or the demo kit's folder
        else emit message(QStringLiteral("warning"), tr("the experiment's kit %1 is not available: its results are shown, new sweeps need it").arg(kit));
    }
    return true;
}

bool Workbench::saveExperimentAs(const QString& path, QString* error) {
    try {
        core::store::Experiment copy = m_experiment;
        copy.modified = core::store::isoNow();
        const core::io::WriterLock lock(path.toStdString(), "mergescope workbench save");
        core::store::writeExperiment(path.toStdString(), copy);
    } catch (const core::Error& e) {
        if (error) *error = QString::fromUtf8(e.what());
        return false;
    }
    if (m_autosave) QFile::remove(m_path);
    m_path = path;
    m_autosave = false;
    emit message(QStringLiteral("info"), tr("saved %1").arg(path));
    return true;
}

// ---- sweeps -------------------------------------------------------------------------------

int Workbench::queueSweep(const core::session::SweepJob& job, const QString& label) {
    QueuedSweep q;
    q.id = m_nextSweepId++;
    q.label = label;
    q.job = job;
    m_queue.push_back(q);
    emit queueChanged();
    startNextSweep();
    return q.id;
}

void Workbench::startNextSweep() {
    if (m_sweepWorker || m_paused || !m_session) return;
    auto it = std::find_if(m_queue.begin(), m_queue.end(), [](const QueuedSweep& q) { return q.state == QueueState::Queued; });
    if (it == m_queue.end()) return;
    it->state = QueueState::Running;
    const int id = it->id;
    const auto session = m_session;
    auto job = it->job;
    const std::string path = m_path.toStdString();
    const core::store::Experiment fresh = m_experiment;  // used when the file does not exist yet
    QPointer<Workbench> self(this);
    // One typed stream from the sweep's thread, applied on the GUI thread: the experiment once as
    // read under the file's lock, then each committed point (no copy of the experiment per point).
    Worker* w = Worker::start(
        it->label,
        [session, job, path, fresh, self, id](core::ProgressSink&, const core::CancelToken& c) {
            session->runSweep(job, path, fresh, [self, id](const core::session::SweepUpdate& u) {
                QMetaObject::invokeMethod(
                    self.data(), [self, id, u] {
                        if (self) self->applySweepUpdate(id, u);
                    },
                    Qt::QueuedConnection);
            }, &c);
        },
        this, &m_pool);
    m_sweepWorker = w;
    connect(w, &Worker::finished, this, [this, id](bool ok, const QString& msg) {
        m_sweepWorker = nullptr;
        for (auto& q : m_queue) {
            if (q.id != id) continue;
            if (ok) q.state = QueueState::Done;
            else if (msg == QStringLiteral("cancelled")) q.state = m_paused ? QueueState::Paused : QueueState::Cancelled;
            else q.state = QueueState::Failed;
            if (q.state == QueueState::Paused) q.job.resume = true;
            if (!ok && msg != QStringLiteral("cancelled"))
                emit message(QStringLiteral("error"), tr("%1 failed: %2").arg(q.label, msg));
            else if (ok)
                emit message(QStringLiteral("info"), tr("%1: done (%2 points), saved in %3").arg(q.label).arg(q.total).arg(m_path));
        }
        emit queueChanged();
        startNextSweep();
    });
}

void Workbench::applySweepUpdate(int queueId, const core::session::SweepUpdate& u) {
    using Kind = core::session::SweepUpdate::Kind;
    for (auto& q : m_queue)
        if (q.id == queueId)
            q.done = u.progress.done, q.total = u.progress.total, q.etaSeconds = u.progress.etaSeconds,
            q.stage = QString::fromStdString(u.progress.stage);
    if (u.kind == Kind::Started && u.experiment) {
        m_experiment = *u.experiment;
    } else if (u.kind == Kind::PointCommitted || u.kind == Kind::Finished) {
        core::store::SweepRecord* r = m_experiment.findSweep(u.progress.sweepId);
        if (!r) return;
        if (u.kind == Kind::PointCommitted) r->points.push_back(u.point);
        r->status = u.status;
        r->plannedPoints = u.plannedPoints;
    }
    if (u.kind != Kind::Progress) emit experimentChanged();
    emit queueChanged();
}

void Workbench::pauseSweeps() {
    m_paused = true;
    if (m_sweepWorker) m_sweepWorker->cancel();
    emit queueChanged();
}

void Workbench::resumeSweeps() {
    m_paused = false;
    for (auto& q : m_queue)
        if (q.state == QueueState::Paused) q.state = QueueState::Queued;
    emit queueChanged();
    startNextSweep();
}

void Workbench::cancelSweeps() {
    for (auto& q : m_queue)
        if (q.state == QueueState::Queued || q.state == QueueState::Paused) q.state = QueueState::Cancelled;
    m_paused = false;
    if (m_sweepWorker) m_sweepWorker->cancel();
    emit queueChanged();
}

// ---- live preview -------------------------------------------------------------------------

void Workbench::requestLive(const core::merge::MergeSpec& settings) {
    if (!m_session) return;
    if (m_liveWorker) {
        // Latest wins: the newest value waits in the one pending slot and runs next. A running
        // preview is cancelled only when it is slow (a preparation): cancelling every quick one
        // at each new value starves a continuous drag on a loaded machine (no update at all).
        // A preview that has shown its estimate is only refining it: stale now. One that is still
        // on its estimate gets the estimate's time (a drag shows an estimate about every second).
        m_livePending = settings;
        const qint64 patience = kLiveCancelAfterMs + static_cast<qint64>(2000 * m_options.liveEstimateSeconds);
        if (m_liveEstimated || m_liveClock.elapsed() > patience) m_liveWorker->cancel();
        return;
    }
    startLive(settings);
}

void Workbench::startLive(const core::merge::MergeSpec& settings) {
    m_liveClock.start();
    m_liveEstimated = false;
    auto session = m_session;
    auto result = std::make_shared<core::session::LiveResult>();
    // From the worker's thread: the estimate reaches the GUI thread as a queued call (dropped by Qt
    // if the workbench is gone; its destructor waits for the pool anyway).
    const auto onEstimate = [this](const core::session::LiveResult& e) {
        QMetaObject::invokeMethod(
            this,
            [this, e] {
                m_liveEstimated = true;
                emit liveEstimate(QVector<double>(e.perTask.begin(), e.perTask.end()),
                                  QVector<double>(e.perTaskError.begin(), e.perTaskError.end()), e.mean, e.meanError, e.images,
                                  e.imagesTotal, e.mergeSeconds + e.proxySeconds);
            },
            Qt::QueuedConnection);
    };
    m_liveWorker = Worker::start(
        tr("live preview"),
        [session, settings, result, onEstimate](core::ProgressSink&, const core::CancelToken& c) {
            *result = session->live(settings, &c, onEstimate);
        },
        this, &m_pool);
    connect(m_liveWorker, &Worker::finished, this, [this, result](bool ok, const QString& msg) {
        m_liveWorker = nullptr;
        m_liveEstimated = false;
        if (ok) {
            emit liveResult(QVector<double>(result->perTask.begin(), result->perTask.end()), result->mean, result->min,
                            result->mergeSeconds + result->proxySeconds, result->estimateSeconds);
            emit livePreview(result->dense);
        } else if (msg != QStringLiteral("cancelled")) {
            emit message(QStringLiteral("error"), tr("live preview: %1").arg(msg));
        }
        if (m_livePending) {
            const auto next = *m_livePending;
            m_livePending.reset();
            startLive(next);
        }
    });
}

// ---- analysis, export ---------------------------------------------------------------------

void Workbench::analyzeInterference() {
    if (!m_session) return;
    auto session = m_session;
    auto report = std::make_shared<core::analysis::InterferenceReport>();
    auto spectra = std::make_shared<core::analysis::SpectrumReport>();
    runJob(
        tr("Analysing interference"),
        [session, report, spectra](core::ProgressSink& p, const core::CancelToken& c) {
            // The kit's one binding (files, hashes, the base's prefix): the tensors a merge would merge.
            core::merge::MergeEngine engine(session->bind(core::merge::MergeSpec{}));
            *report = core::analysis::analyzeInterference(engine.problem(), session->taskNames(), {}, p, &c);
            *spectra = core::analysis::analyzeSpectra(engine.problem(), session->taskNames(), p, &c);
        },
        [this, report, spectra](bool ok, const QString& msg) {
            if (!ok) {
                emit message(QStringLiteral("error"), tr("interference analysis: %1").arg(msg));
                return;
            }
            m_interference = *report;
            m_spectra = *spectra;
            emit interferenceReady();
        });
}

void Workbench::saveMerged(const core::merge::MergeSpec& settings, const QString& path) {
    writeMergedJob([settings] { return settings; }, path, std::nullopt, {});
}

void Workbench::savePoint(const QString& sweepId, int pointNumber, const QString& path) {
    const core::store::SweepRecord* r = m_experiment.findSweep(sweepId.toStdString());
    if (!r) return;
    // The point's settings are read from the experiment on the worker, as `merge --experiment` reads them.
    const auto experiment = std::make_shared<const core::store::Experiment>(m_experiment);
    const std::string id = sweepId.toStdString();
    const nlohmann::json origin = {{"experiment", m_path.toStdString()}, {"sweep", id}, {"point", pointNumber}};
    writeMergedJob([experiment, id, pointNumber] { return core::store::pointSpec(*experiment, id, pointNumber); }, path, r->scoring.data,
                   {{"mergescope.origin", origin.dump()}});
}

void Workbench::writeMergedJob(std::function<core::merge::MergeSpec()> settings, const QString& path, std::optional<core::sweep::DataOptions> learnedOn,
                               std::map<std::string, std::string> metadata) {
    if (!m_session) return;
    auto session = m_session;
    const std::string p = path.toStdString();
    auto files = std::make_shared<std::vector<std::string>>();
    runJob(
        tr("Saving merged model"),
        [session, settings, p, learnedOn, metadata, files](core::ProgressSink& pr, const core::CancelToken& c) {
            *files = session->saveMerged(settings(), p, "", pr, &c, learnedOn ? &*learnedOn : nullptr, metadata);
        },
        [this, path, files](bool ok, const QString& msg) {
            QStringList written;
            for (const auto& f : *files) written << QString::fromStdString(f);
            if (ok) emit message(QStringLiteral("info"), tr("merged model saved to %1").arg(written.join(QStringLiteral(", "))));
            else emit message(QStringLiteral("error"), tr("saving %1 failed: %2").arg(path, msg));
        });
}

QString queueStateName(QueueState s) {
    switch (s) {
        case QueueState::Queued: return Workbench::tr("queued");
        case QueueState::Running: return Workbench::tr("running");
        case QueueState::Paused: return Workbench::tr("paused");
        case QueueState::Done: return Workbench::tr("done");
        case QueueState::Cancelled: return Workbench::tr("cancelled");
        case QueueState::Failed: return Workbench::tr("failed");
    }
    return {};
}

}  // namespace ms::ui
