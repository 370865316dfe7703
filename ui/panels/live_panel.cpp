#include "ui/panels/live_panel.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QSignalBlocker>
#include <QSlider>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "core/merge/method_registry.h"
#include "ui/panels/strategy_panel.h"
#include "ui/task_colors.h"
#include "ui/workbench.h"

namespace ms::ui {

AlignmentBars::AlignmentBars(QWidget* parent) : QWidget(parent) { setMinimumHeight(60); }

void AlignmentBars::setValues(const QStringList& tasks, const QVector<double>& values) {
    m_tasks = tasks;
    m_values = values;
    updateGeometry();
    update();
}

QSize AlignmentBars::sizeHint() const { return {320, 22 * static_cast<int>(std::max<qsizetype>(3, m_tasks.size())) + 8}; }

void AlignmentBars::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const int rowH = 22, nameW = 110, valueW = 56;
    const int barX = nameW + 6, barW = std::max(40, width() - nameW - valueW - 16);
    const double lo = -1.0, hi = 1.0;  // Â: 1 = as the expert, 0 = as the base
    auto xOf = [&](double v) { return barX + (std::clamp(v, lo, hi) - lo) / (hi - lo) * barW; };
    p.setPen(QColor(200, 200, 200));
    for (double tick : {-1.0, 0.0, 1.0}) p.drawLine(QPointF(xOf(tick), 2), QPointF(xOf(tick), rowH * m_tasks.size() + 2));
    for (int t = 0; t < m_tasks.size(); ++t) {
        const int y = t * rowH + 4;
        p.setPen(taskColor(t));
        QFont f = font();
        f.setBold(true);
        p.setFont(f);
        p.drawText(QRect(0, y, nameW, rowH - 4), Qt::AlignRight | Qt::AlignVCenter, m_tasks[t]);
        if (t >= m_values.size() || !std::isfinite(m_values[t])) continue;
        const double v = m_values[t];
        const double x0 = xOf(0), x1 = xOf(v);
        p.setPen(Qt::NoPen);
        p.setBrush(taskColor(t));
        p.drawRoundedRect(QRectF(std::min(x0, x1), y + 3, std::abs(x1 - x0) + 1, rowH - 10), 2, 2);
        p.setPen(palette().color(QPalette::WindowText));
        p.setFont(font());
        p.drawText(QRect(barX + barW + 6, y, valueW, rowH - 4), Qt::AlignLeft | Qt::AlignVCenter, QString::number(v, 'f', 3));
    }
}

LivePanel::LivePanel(Workbench* workbench, StrategyPanel* strategy, QWidget* parent)
    : QWidget(parent), m_workbench(workbench), m_strategy(strategy) {
    auto* layout = new QVBoxLayout(this);
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(QStringLiteral("λ"), this));
    m_slider = new QSlider(Qt::Horizontal, this);
    m_slider->setObjectName(QStringLiteral("lambdaSlider"));
    m_slider->setRange(0, 200);
    m_slider->setValue(30);
    m_slider->setToolTip(tr("the merge's λ: drag to re-merge and re-score the proxy live"));
    row->addWidget(m_slider, 1);
    m_lambda = new QLabel(QStringLiteral("0.30"), this);
    m_lambda->setMinimumWidth(36);
    row->addWidget(m_lambda);
    layout->addLayout(row);
    m_bars = new AlignmentBars(this);
    m_bars->setObjectName(QStringLiteral("alignmentBars"));
    layout->addWidget(m_bars);
    m_readout = new QLabel(tr("open a kit to see the proxy live"), this);
    m_readout->setObjectName(QStringLiteral("liveReadout"));
    m_readout->setWordWrap(true);
    layout->addWidget(m_readout);
    layout->addStretch();

    // The slider is a second handle on the Strategy panel's λ, never a value of its own.
    connect(m_slider, &QSlider::valueChanged, this, [this](int v) {
        m_lambda->setText(QString::number(v / 100.0, 'f', 2));
        if (m_strategy->hasParam(QStringLiteral("lambda"))) m_strategy->setParam(QStringLiteral("lambda"), v / 100.0);
        else request();
    });
    connect(m_strategy, &StrategyPanel::changed, this, [this] {
        followStrategy();
        request();
    });
    connect(m_workbench, &Workbench::kitLoaded, this, [this] {
        m_bars->setValues(m_workbench->taskNames(), {});
        request();
    });
    followStrategy();
    connect(m_workbench, &Workbench::liveResult, this, [this](const QVector<double>& perTask, double mean, double min, double seconds) {
        ++m_updates;
        m_bars->setValues(m_workbench->taskNames(), perTask);
        m_readout->setText(tr("task alignment Â: mean <b>%1</b>, min %2 — %3 ms on %4 probe images per data set")
                               .arg(mean, 0, 'f', 3)
                               .arg(min, 0, 'f', 3)
                               .arg(seconds * 1000.0, 0, 'f', 0)
                               .arg(m_workbench->sessionOptions().liveProbeSize));
    });
}

void LivePanel::followStrategy() {
    const double lambda = m_strategy->param(QStringLiteral("lambda"));
    m_slider->setEnabled(std::isfinite(lambda));
    if (!std::isfinite(lambda)) {
        m_lambda->setText(QStringLiteral("–"));
        return;
    }
    const QSignalBlocker block(m_slider);
    m_slider->setValue(static_cast<int>(std::lround(std::clamp(lambda, 0.0, 2.0) * 100.0)));
    m_lambda->setText(QString::number(lambda, 'f', 2));
}

void LivePanel::request() {
    if (!m_workbench->hasKit()) return;
    if (core::merge::findMethod(m_strategy->method().toStdString()).info().needsKit) {
        m_bars->setValues(m_workbench->taskNames(), {});
        m_readout->setText(tr("%1 learns from the kit's data (a minute or two): queue it in the Sweeps panel; "
                              "its loss and what it learned appear in the Learned plot").arg(m_strategy->method()));
        return;
    }
    m_workbench->requestLive(m_strategy->settings());
}

}  // namespace ms::ui
