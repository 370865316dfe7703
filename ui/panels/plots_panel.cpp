#include "ui/panels/plots_panel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QStackedLayout>
#include <QTabWidget>
#include <QVBoxLayout>

#include "ui/plot_data.h"
#include "ui/plots/matrix_plots.h"
#include "ui/plots/plot_style.h"
#include "ui/plots/sweep_plot.h"
#include "ui/workbench.h"

namespace ms::ui {

PlotsPanel::PlotsPanel(Workbench* workbench, QWidget* parent) : QWidget(parent), m_workbench(workbench) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Sweep"), this));
    m_sweep = new QComboBox(this);
    m_sweep->setObjectName(QStringLiteral("sweepCombo"));
    m_sweep->setMinimumContentsLength(16);
    m_sweep->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    bar->addWidget(m_sweep);
    bar->addWidget(new QLabel(tr("Proxy"), this));
    m_variant = new QComboBox(this);
    m_variant->setObjectName(QStringLiteral("variantCombo"));
    m_variant->setMinimumContentsLength(9);
    m_variant->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    bar->addWidget(m_variant);
    bar->addWidget(new QLabel(tr("Downstream"), this));
    m_downstreamKind = new QComboBox(this);
    m_downstreamKind->setObjectName(QStringLiteral("downstreamKindCombo"));
    m_downstreamKind->addItems({tr("normalized"), tr("ΔMTL")});
    m_downstreamKind->setToolTip(tr("What the downstream curves, the scatter and the heatmap show: normalized performance per task "
                                    "and its mean, or LibMTL's Δ per task and ΔMTL (every metric of every task; sweeps before 0.2 "
                                    "have only the first)"));
    bar->addWidget(m_downstreamKind);
    bar->addWidget(new QLabel(tr("Heatmap"), this));
    m_heatValue = new QComboBox(this);
    m_heatValue->addItems({tr("downstream"), tr("proxy")});
    bar->addWidget(m_heatValue);
    bar->addWidget(new QLabel(tr("Relations λ"), this));
    m_lambda = new QComboBox(this);
    bar->addWidget(m_lambda);
    bar->addStretch();
    layout->addLayout(bar);

    auto* stack = new QStackedLayout;
    stack->setStackingMode(QStackedLayout::StackAll);
    m_tabs = new QTabWidget(this);
    m_tabs->setObjectName(QStringLiteral("plotTabs"));
    m_tabs->setUsesScrollButtons(true);  // seven plots: the tab bar scrolls rather than widening the window
    m_sweepPlot = new SweepPlot(m_tabs);
    m_scatter = new ScatterPlot(m_tabs);
    m_heatmap = new HeatmapPlot(m_tabs);
    m_interference = new InterferencePlot(m_tabs);
    m_spectra = new SpectraPlot(m_tabs);
    m_spectra->setObjectName(QStringLiteral("spectraPlot"));
    m_relations = new RelationsPlot(m_tabs);
    m_learned = new LearnedPlot(m_tabs);
    m_tabs->addTab(m_sweepPlot, tr("Proxy && downstream"));
    m_tabs->addTab(m_scatter, tr("Proxy vs downstream"));
    m_tabs->addTab(m_heatmap, tr("Heatmap"));
    m_tabs->addTab(m_interference, tr("Interference"));
    m_tabs->addTab(m_spectra, tr("Spectra"));
    m_tabs->addTab(m_relations, tr("Relations"));
    m_tabs->addTab(m_learned, tr("Learned"));

    m_welcome = new QWidget(this);
    m_welcome->setObjectName(QStringLiteral("welcome"));
    m_welcome->setAutoFillBackground(true);
    auto* wl = new QVBoxLayout(m_welcome);
    auto* text = new QLabel(tr("<h2>Welcome to MergeScope</h2>"
                               "<p>Merge task experts fine-tuned from one vision encoder, and choose the merge's coefficients "
                               "with a cheap proxy instead of training every decoder.</p>"
                               "<p>Start with the <b>demo kit</b>: a small ViT pretrained on Fashion-MNIST and MNIST, fine-tuned "
                               "into four task experts (about 3.5 minutes to build on two cores, then cached), or open a kit "
                               "of your own.</p>"),
                            m_welcome);
    text->setWordWrap(true);
    text->setAlignment(Qt::AlignCenter);
    // A fixed width: a word-wrapped label under a maximum width is laid out with the height of
    // another width and cut its last paragraph off.
    text->setFixedWidth(600);
    text->setSizePolicy(QSizePolicy::Fixed, QSizePolicy::Minimum);
    auto* buttons = new QHBoxLayout;
    auto* build = new QPushButton(tr("Build the demo kit"), m_welcome);
    build->setObjectName(QStringLiteral("buildDemoButton"));
    auto* open = new QPushButton(tr("Open a kit…"), m_welcome);
    buttons->addStretch();
    buttons->addWidget(build);
    buttons->addWidget(open);
    buttons->addStretch();
    wl->addStretch();
    wl->addWidget(text, 0, Qt::AlignHCenter);
    wl->addLayout(buttons);
    wl->addStretch();
    stack->addWidget(m_welcome);
    stack->addWidget(m_tabs);
    layout->addLayout(stack, 1);
    m_welcome->setVisible(false);
    connect(build, &QPushButton::clicked, this, &PlotsPanel::buildDemoRequested);
    connect(open, &QPushButton::clicked, this, &PlotsPanel::openKitRequested);

    for (QComboBox* c : {m_sweep, m_variant, m_heatValue, m_lambda, m_downstreamKind})
        connect(c, &QComboBox::currentIndexChanged, this, [this] {
            if (!m_refreshing) refresh();
        });
    connect(m_workbench, &Workbench::experimentChanged, this, &PlotsPanel::refresh);
    connect(m_workbench, &Workbench::interferenceReady, this, [this] {
        m_interference->showReport(m_workbench->interference() ? &*m_workbench->interference() : nullptr);
        m_spectra->showReport(m_workbench->spectra() ? &*m_workbench->spectra() : nullptr);
    });
    refresh();
}

void PlotsPanel::setWelcomeVisible(bool visible) {
    m_welcome->setVisible(visible);
    m_tabs->setVisible(!visible);
}

QCustomPlot* PlotsPanel::currentPlot() const { return qobject_cast<QCustomPlot*>(m_tabs->currentWidget()); }
QCustomPlot* PlotsPanel::plot(int index) const { return qobject_cast<QCustomPlot*>(m_tabs->widget(index)); }
int PlotsPanel::plotCount() const { return m_tabs->count(); }

QString PlotsPanel::currentSweepId() const { return m_sweep->currentData().toString(); }

void PlotsPanel::selectSweep(const QString& id) {
    const int i = m_sweep->findData(id);
    if (i >= 0) m_sweep->setCurrentIndex(i);
}

void PlotsPanel::refresh() {
    m_refreshing = true;
    const auto& e = m_workbench->experiment();
    // Sweep list: keep the selection; a new sweep (running) becomes the selection.
    const QString previous = m_sweep->currentData().toString();
    const int previousCount = m_sweep->count();
    m_sweep->clear();
    for (const auto& s : e.sweeps) {
        const QString id = QString::fromStdString(s.id);
        m_sweep->addItem(QStringLiteral("%1 · %2 · %3 pts · %4")
                             .arg(id, QString::fromStdString(s.kind() == core::store::SweepKind::Relations ? "relations" : s.method()))
                             .arg(s.points.size())
                             .arg(QString::fromStdString(s.downstream())),
                         id);
    }
    int index = m_sweep->findData(previous);
    if (static_cast<int>(e.sweeps.size()) > previousCount || index < 0) index = m_sweep->count() - 1;
    m_sweep->setCurrentIndex(index);
    const core::store::SweepRecord* sweep = index >= 0 ? &e.sweeps[static_cast<std::size_t>(index)] : nullptr;

    const QString variant = m_variant->currentText();
    m_variant->clear();
    if (sweep)
        for (const auto& v : sweep->proxies()) m_variant->addItem(QString::fromStdString(v));
    const int vi = m_variant->findText(variant);
    m_variant->setCurrentIndex(vi >= 0 ? vi : 0);
    const std::string v = m_variant->currentText().toStdString();

    // Relations λ: the last one at or below 1 by default.
    const QString lambdaText = m_lambda->currentText();
    m_lambda->clear();
    const core::store::SweepRecord* relations = nullptr;
    if (sweep && sweep->kind() == core::store::SweepKind::Relations) relations = sweep;
    else
        for (auto it = e.sweeps.rbegin(); it != e.sweeps.rend() && !relations; ++it)
            if (it->kind() == core::store::SweepKind::Relations && !it->points.empty()) relations = &*it;
    double lambda = 1.0;
    if (relations) {
        const auto m = relationsMatrix(*relations, 0.0);
        int pick = -1;
        for (std::size_t i = 0; i < m.lambdas.size(); ++i) {
            m_lambda->addItem(QString::number(m.lambdas[i], 'g', 4), m.lambdas[i]);
            if (m.lambdas[i] <= 1.0 + 1e-9) pick = static_cast<int>(i);
        }
        const int li = m_lambda->findText(lambdaText);
        m_lambda->setCurrentIndex(li >= 0 ? li : std::max(0, pick));
        if (m_lambda->currentIndex() >= 0) lambda = m_lambda->currentData().toDouble();
    }
    m_refreshing = false;

    const bool merge = sweep && sweep->kind() != core::store::SweepKind::Relations;
    const auto downstream = m_downstreamKind->currentIndex() == 1 ? core::store::DownstreamAggregate::DeltaMtl
                                                                 : core::store::DownstreamAggregate::MeanNormalized;
    m_sweepPlot->showSweep(sweep, v, downstream);
    m_scatter->showSweep(merge ? sweep : nullptr, v, downstream);
    m_heatmap->showSweep(merge ? sweep : nullptr, v, m_heatValue->currentIndex() == 0, downstream);
    m_relations->showSweep(relations, lambda);
    // Learned merges: the selected point, else the sweep's last one.
    const int learnedPoint = m_highlightSweep == index && m_highlightPoint >= 0 ? m_highlightPoint
                             : sweep ? static_cast<int>(sweep->points.size()) - 1 : -1;
    m_learned->showPoint(sweep, learnedPoint);
    if (m_highlightSweep == index) highlight(m_highlightSweep, m_highlightPoint);
}

void PlotsPanel::highlight(int sweepIndex, int point) {
    m_highlightSweep = sweepIndex;
    m_highlightPoint = point;
    if (sweepIndex != m_sweep->currentIndex()) {
        if (sweepIndex < 0 || sweepIndex >= m_sweep->count()) return;
        m_sweep->setCurrentIndex(sweepIndex);  // refreshes, then comes back here
        return;
    }
    m_sweepPlot->highlightPoint(point);
    m_scatter->highlightPoint(point);
    m_heatmap->highlightPoint(point);
    const auto& sweeps = m_workbench->experiment().sweeps;
    if (sweepIndex >= 0 && sweepIndex < static_cast<int>(sweeps.size())) m_learned->showPoint(&sweeps[static_cast<std::size_t>(sweepIndex)], point);
}

void PlotsPanel::setPresentation(bool on) {
    for (int i = 0; i < plotCount(); ++i) scalePlotFonts(plot(i), on ? 1.6 : 1.0);
    QFont f = m_tabs->font();
    f.setPointSizeF(on ? 14 : 10);
    m_tabs->tabBar()->setFont(f);
}

}  // namespace ms::ui
