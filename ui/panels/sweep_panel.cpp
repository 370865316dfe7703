#include "ui/panels/sweep_panel.h"

#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include "core/errors.h"
#include "core/merge/method_registry.h"
#include "ui/panels/strategy_panel.h"
#include "ui/workbench.h"

namespace ms::ui {

SweepPanel::SweepPanel(Workbench* workbench, StrategyPanel* strategy, QWidget* parent)
    : QWidget(parent), m_workbench(workbench), m_strategy(strategy) {
    auto* layout = new QVBoxLayout(this);
    auto* form = new QFormLayout;
    m_kind = new QComboBox(this);
    m_kind->addItem(tr("merge (method of the Strategy panel)"), QStringLiteral("merge"));
    m_kind->addItem(tr("relations (θ0 + λ τ_t, each task)"), QStringLiteral("relations"));
    m_kind->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_kind->setMinimumContentsLength(14);
    form->addRow(tr("Kind"), m_kind);
    m_grid1 = new QLineEdit(QStringLiteral("lambda=0:1.5:16"), this);
    m_grid1->setObjectName(QStringLiteral("grid1"));
    m_grid1->setToolTip(tr("NAME=START:STOP:COUNT, NAME=V1,V2,… or NAME[TASK]=… (empty: no axis)"));
    form->addRow(tr("Grid"), m_grid1);
    m_grid2 = new QLineEdit(this);
    m_grid2->setObjectName(QStringLiteral("grid2"));
    m_grid2->setPlaceholderText(tr("e.g. density=0.1,0.2,0.4"));
    form->addRow(tr("2nd axis"), m_grid2);
    m_taskWeights = new QLineEdit(this);
    m_taskWeights->setPlaceholderText(tr("e.g. lhs:32 or random:16:0:1"));
    form->addRow(tr("Task weights"), m_taskWeights);
    m_proxies = new QLineEdit(QStringLiteral("task-alignment, cls-cosine"), this);
    m_proxies->setToolTip(tr("proxy variants, comma-separated; the first is the primary"));
    form->addRow(tr("Proxies"), m_proxies);
    m_downstream = new QComboBox(this);
    m_downstream->setObjectName(QStringLiteral("downstreamCombo"));
    for (const char* m : {"none", "frozen", "head-realign", "repr-realign"}) m_downstream->addItem(QString::fromLatin1(m));
    m_downstream->setCurrentText(QStringLiteral("head-realign"));
    m_downstream->setToolTip(tr("none: proxy only; frozen: the experts' heads; head-realign: heads re-trained on the merged "
                                "features; repr-realign: low-rank adapters + heads"));
    form->addRow(tr("Downstream"), m_downstream);
    layout->addLayout(form);
    auto* queueButton = new QPushButton(tr("Queue sweep"), this);
    queueButton->setObjectName(QStringLiteral("queueButton"));
    layout->addWidget(queueButton);
    m_queue = new QTableWidget(0, 4, this);
    m_queue->setObjectName(QStringLiteral("queueTable"));
    m_queue->setHorizontalHeaderLabels({tr("sweep"), tr("state"), tr("progress"), tr("ETA")});
    m_queue->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_queue->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    m_queue->horizontalHeader()->setSectionResizeMode(2, QHeaderView::Fixed);
    m_queue->horizontalHeader()->setSectionResizeMode(3, QHeaderView::ResizeToContents);
    m_queue->setColumnWidth(2, 70);
    m_queue->setWordWrap(false);
    m_queue->verticalHeader()->setVisible(false);
    m_queue->setEditTriggers(QAbstractItemView::NoEditTriggers);
    layout->addWidget(m_queue, 1);
    auto* buttons = new QHBoxLayout;
    m_pause = new QPushButton(tr("Pause"), this);
    auto* cancel = new QPushButton(tr("Cancel all"), this);
    cancel->setObjectName(QStringLiteral("cancelButton"));
    buttons->addWidget(m_pause);
    buttons->addWidget(cancel);
    layout->addLayout(buttons);

    connect(m_kind, &QComboBox::currentIndexChanged, this, [this] {
        const bool relations = m_kind->currentData().toString() == QStringLiteral("relations");
        m_grid2->setEnabled(!relations);
        m_taskWeights->setEnabled(!relations);
        if (relations && m_downstream->currentText() == QStringLiteral("none")) m_downstream->setCurrentText(QStringLiteral("frozen"));
    });
    connect(queueButton, &QPushButton::clicked, this, [this] { queueFromForm(); });
    connect(m_pause, &QPushButton::clicked, this, [this] {
        if (m_pause->text() == tr("Pause")) m_workbench->pauseSweeps();
        else m_workbench->resumeSweeps();
    });
    connect(cancel, &QPushButton::clicked, m_workbench, &Workbench::cancelSweeps);
    connect(m_workbench, &Workbench::queueChanged, this, &SweepPanel::refreshQueue);
    // A method without λ (the learned ones, SLERP, Model Stock) sweeps one point unless its own knobs are swept.
    connect(m_strategy, &StrategyPanel::changed, this, [this] {
        const bool hasLambda = core::merge::findMethod(m_strategy->method().toStdString()).info().has("lambda");
        if (!hasLambda && m_grid1->text().startsWith(QStringLiteral("lambda"))) m_grid1->clear();
        if (hasLambda && m_grid1->text().isEmpty()) m_grid1->setText(QStringLiteral("lambda=0:1.5:16"));
        m_grid1->setPlaceholderText(hasLambda ? QString() : tr("one point; or sweep a knob, e.g. steps=100,300,500"));
    });
}

void SweepPanel::setGrid(const QString& first, const QString& second) {
    m_grid1->setText(first);
    m_grid2->setText(second);
}
void SweepPanel::setDownstream(const QString& mode) { m_downstream->setCurrentText(mode); }
void SweepPanel::setKind(const QString& kind) { m_kind->setCurrentIndex(kind == QStringLiteral("relations") ? 1 : 0); }

bool SweepPanel::queueFromForm(QString* error) {
    core::session::SweepJob job;
    QString label;
    try {
        const bool relations = m_kind->currentData().toString() == QStringLiteral("relations");
        QStringList swept;
        for (QLineEdit* g : {m_grid1, m_grid2}) {
            if (!g->isEnabled() || g->text().trimmed().isEmpty()) continue;
            job.spec.axes.push_back(core::sweep::parseGridAxis(g->text().trimmed().toStdString()));
            swept << QString::fromStdString(job.spec.axes.back().param);
        }
        if (relations) {  // a second grid stays, for planSweep to refuse
            const auto axes = job.spec.axes;
            job.spec = core::sweep::relationsSweep(axes.empty() ? core::sweep::parseGridAxis("lambda=0:1.5:16") : axes.front());
            job.spec.axes.insert(job.spec.axes.end(), axes.begin() + (axes.empty() ? 0 : 1), axes.end());
        }
        if (m_taskWeights->isEnabled() && !m_taskWeights->text().trimmed().isEmpty()) {
            job.spec.sampling = core::sweep::parseTaskSampling(m_taskWeights->text().trimmed().toStdString());
            swept << QStringLiteral("weight");
        }
        if (!relations) {
            // The Strategy panel's settings as they are, less the swept ones (each point sets those).
            job.spec.merge = m_strategy->settings();
            for (const QString& p : swept) {
                job.spec.merge.params.erase(p.toStdString());
                for (auto& m : job.spec.merge.models) m.params.erase(p.toStdString());
            }
        }
        job.scoring.proxies.clear();
        for (const QString& p : m_proxies->text().split(QLatin1Char(','), Qt::SkipEmptyParts))
            job.scoring.proxies.push_back(p.trimmed().toStdString());
        job.scoring.downstream.mode = core::sweep::parseDownstreamMode(m_downstream->currentText().toStdString());
        if (job.scoring.proxies.empty() && job.scoring.downstream.mode == core::sweep::DownstreamMode::None) throw core::InvalidArgument("nothing to score: give a proxy or a downstream mode");
        label = relations ? tr("relations") : m_strategy->method();
        for (const auto& a : job.spec.axes) label += QStringLiteral(" · ") + QString::fromStdString(a.label());
        label += QStringLiteral(" · ") + m_downstream->currentText();
    } catch (const core::Error& e) {
        const QString msg = QString::fromUtf8(e.what());
        if (error) *error = msg;
        emit m_workbench->message(QStringLiteral("error"), tr("sweep not queued: %1").arg(msg));
        return false;
    }
    if (!m_workbench->hasKit()) {
        if (error) *error = tr("no kit is open");
        emit m_workbench->message(QStringLiteral("error"), tr("sweep not queued: no kit is open"));
        return false;
    }
    m_workbench->queueSweep(job, label);
    emit m_workbench->message(QStringLiteral("info"), tr("queued: %1").arg(label));
    return true;
}

void SweepPanel::refreshQueue() {
    const auto& q = m_workbench->queue();
    m_queue->setRowCount(static_cast<int>(q.size()));
    int row = 0;
    bool anyPaused = false;
    for (const auto& s : q) {
        auto* label = new QTableWidgetItem(s.label);
        label->setToolTip(s.label);
        m_queue->setItem(row, 0, label);
        const bool showStage = s.state == QueueState::Running && !s.stage.isEmpty();
        auto* state = new QTableWidgetItem(showStage ? queueStateName(s.state) + QStringLiteral(": ") + s.stage : queueStateName(s.state));
        if (showStage) state->setToolTip(s.stage);
        m_queue->setItem(row, 1, state);
        auto* bar = qobject_cast<QProgressBar*>(m_queue->cellWidget(row, 2));
        if (!bar) {
            bar = new QProgressBar(m_queue);
            bar->setTextVisible(true);
            m_queue->setCellWidget(row, 2, bar);
        }
        bar->setRange(0, std::max(1, s.total));
        bar->setValue(std::min(s.done, std::max(1, s.total)));
        bar->setFormat(QStringLiteral("%1/%2").arg(s.done).arg(s.total));
        m_queue->setItem(row, 3, new QTableWidgetItem(s.state == QueueState::Running
                                                          ? QString::fromStdString(core::sweep::etaText(s.etaSeconds))
                                                          : QString()));
        anyPaused = anyPaused || s.state == QueueState::Paused;
        ++row;
    }
    m_pause->setText(anyPaused ? tr("Resume") : tr("Pause"));
}

}  // namespace ms::ui
