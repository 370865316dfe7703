#include "ui/plots/matrix_plots.h"

#include <cmath>

#include "core/merge/method_registry.h"
#include "ui/plot_data.h"
#include "ui/plots/plot_style.h"
#include "ui/task_colors.h"

namespace ms::ui {

namespace {

// Category ticks on an axis: position i ↦ label i.
void categoryTicks(QCPAxis* axis, const QStringList& labels) {
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (int i = 0; i < labels.size(); ++i) ticker->addTick(i, labels[i]);
    axis->setTicker(ticker);
    axis->setSubTicks(false);
    axis->grid()->setVisible(false);
}

QStringList toQt(const std::vector<std::string>& v) {
    QStringList out;
    for (const auto& s : v) out << QString::fromStdString(s);
    return out;
}

void cellText(QCustomPlot* plot, QCPAxis* x, QCPAxis* y, double cx, double cy, double value, const QString& format = {}) {
    if (!std::isfinite(value)) return;
    auto* t = new QCPItemText(plot);
    t->position->setAxes(x, y);
    t->position->setCoords(cx, cy);
    t->setClipToAxisRect(true);
    t->setText(format.isEmpty() ? QString::number(value, 'f', 2) : format);
    t->setProperty("msBaseSize", 8.5);
    QFont f = plot->font();
    f.setPointSizeF(8.5);
    t->setFont(f);
    t->setColor(Qt::black);
    t->setBrush(QColor(255, 255, 255, 170));
    t->setPadding(QMargins(2, 0, 2, 0));
}

}  // namespace

void showPlaceholder(QCustomPlot* plot, const QString& text) {
    for (int i = 0; i < plot->axisRectCount(); ++i)
        for (QCPAxis* a : plot->axisRect(i)->axes()) a->setVisible(false);
    auto* t = new QCPItemText(plot);
    t->position->setType(QCPItemPosition::ptViewportRatio);
    t->position->setCoords(0.5, 0.5);
    t->setClipToAxisRect(false);
    t->setText(text);
    t->setColor(QColor(120, 120, 120));
    t->setProperty("msBaseSize", 11.0);
    QFont f = plot->font();
    f.setPointSizeF(11.0);
    t->setFont(f);
}

// ---- scatter ------------------------------------------------------------------------------

ScatterPlot::ScatterPlot(QWidget* parent) : QCustomPlot(parent) {
    stylePlot(this);
    enableHoverValues(this);
    xAxis->setLabel(tr("proxy (mean Â over tasks)"));
    yAxis->setLabel(tr("downstream (mean normalized performance)"));
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
    showSweep(nullptr, {});
}

void ScatterPlot::showSweep(const core::store::SweepRecord* sweep, const std::string& variant, core::store::DownstreamAggregate downstream) {
    m_sweep = sweep;
    m_variant = variant;
    m_downstream = downstream;
    const bool delta = sweep && downstream == core::store::DownstreamAggregate::DeltaMtl && !sweep->metricNames.empty();
    yAxis->setLabel(delta ? tr("downstream (ΔMTL)") : tr("downstream (mean normalized performance)"));
    clearGraphs();
    clearItems();
    m_highlight = nullptr;
    if (!sweep || variant.empty()) {
        showPlaceholder(this, tr("no sweep with proxy and downstream scores yet"));
        replot(rpQueuedReplot);
        return;
    }
    QVector<double> x, y;
    for (const auto& p : sweep->points) {
        const double px = p.proxyMean(variant), dy = p.downstream(downstream);
        if (std::isfinite(px) && std::isfinite(dy)) x << px, y << dy;
    }
    if (x.isEmpty()) {
        showPlaceholder(this, tr("this sweep has no downstream scores: the scatter needs both"));
        replot(rpQueuedReplot);
        return;
    }
    QString stats = tr("points");
    for (const auto& q : sweep->summaries(downstream))
        if (q.proxy == variant)
            stats = tr("ρ %1 · τ %2 · regret %3 · cost ×%4")
                        .arg(q.spearman, 0, 'f', 3)
                        .arg(q.kendall, 0, 'f', 3)
                        .arg(q.regret, 0, 'f', 4)
                        .arg(q.costRatio, 0, 'f', 0);
    xAxis->setVisible(true);
    yAxis->setVisible(true);
    QCPGraph* g = addGraph();
    g->setData(x, y);
    g->setLineStyle(QCPGraph::lsNone);
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(0, 114, 178, 200), 8));
    g->setName(QString::fromStdString(sweep->id) + QStringLiteral(" — ") + stats);
    m_highlight = addGraph();
    m_highlight->setLineStyle(QCPGraph::lsNone);
    m_highlight->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(QColor(20, 20, 20), 2), QColor(255, 255, 0, 160), 16));
    m_highlight->removeFromLegend();
    rescaleAxes();
    for (QCPAxis* a : {xAxis, yAxis}) {
        const QCPRange r = a->range();
        const double pad = std::max(0.01, r.size() * 0.1);
        a->setRange(r.lower - pad, r.upper + pad);
    }
    replot(rpQueuedReplot);
}

void ScatterPlot::highlightPoint(int point) {
    if (!m_highlight || !m_sweep) return;
    m_highlight->data()->clear();
    if (point >= 0 && point < static_cast<int>(m_sweep->points.size())) {
        const auto& p = m_sweep->points[static_cast<std::size_t>(point)];
        if (std::isfinite(p.proxyMean(m_variant)) && std::isfinite(p.downstream(m_downstream)))
            m_highlight->addData(p.proxyMean(m_variant), p.downstream(m_downstream));
    }
    replot(rpQueuedReplot);
}

// ---- heatmap ------------------------------------------------------------------------------

HeatmapPlot::HeatmapPlot(QWidget* parent) : QCustomPlot(parent) {
    stylePlot(this);
    legend->setVisible(false);
    m_scale = new QCPColorScale(this);
    plotLayout()->addElement(0, 1, m_scale);
    QCPMarginGroup* group = new QCPMarginGroup(this);
    axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    m_scale->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    showSweep(nullptr, {}, true);
}

void HeatmapPlot::showSweep(const core::store::SweepRecord* sweep, const std::string& variant, bool downstream,
                            core::store::DownstreamAggregate aggregate) {
    m_sweep = sweep;
    clearItems();
    clearGraphs();
    if (m_map) removePlottable(m_map);
    m_map = nullptr;
    m_highlight = nullptr;
    const Heatmap h = sweep ? heatmap(*sweep, downstream, variant, 0, 1, aggregate) : Heatmap{};
    m_xs = h.xs;  // cell positions, for highlightPoint
    m_ys = h.ys;
    if (h.xs.empty()) {
        m_scale->setVisible(false);
        showPlaceholder(this, tr("a heatmap needs a sweep over two parameters (e.g. density × lambda, or two task weights)"));
        replot(rpQueuedReplot);
        return;
    }
    m_scale->setVisible(true);
    xAxis->setVisible(true);
    yAxis->setVisible(true);
    m_map = new QCPColorMap(xAxis, yAxis);
    const int nx = static_cast<int>(h.xs.size()), ny = static_cast<int>(h.ys.size());
    m_map->data()->setSize(nx, ny);
    m_map->data()->setRange(QCPRange(0, nx - 1), QCPRange(0, ny - 1));
    for (int j = 0; j < ny; ++j)
        for (int i = 0; i < nx; ++i) {
            const double v = h.values[static_cast<std::size_t>(j) * h.xs.size() + static_cast<std::size_t>(i)];
            m_map->data()->setCell(i, j, v);
            cellText(this, xAxis, yAxis, i, j, v, std::isfinite(v) ? QString::number(v, 'f', 3) : QString());
        }
    m_map->setColorScale(m_scale);
    m_map->setGradient(sequentialGradient());
    m_map->setInterpolate(false);
    m_map->rescaleDataRange(true);
    m_scale->axis()->setLabel(!downstream ? tr("proxy (mean Â)")
                              : aggregate == core::store::DownstreamAggregate::DeltaMtl && sweep && !sweep->metricNames.empty() ? tr("ΔMTL")
                                                                                                                           : tr("mean normalized performance"));
    QStringList xl, yl;
    for (double x : h.xs) xl << QString::number(x, 'g', 4);
    for (double y : h.ys) yl << QString::number(y, 'g', 4);
    categoryTicks(xAxis, xl);
    categoryTicks(yAxis, yl);
    xAxis->setLabel(QString::fromStdString(h.xName));
    yAxis->setLabel(QString::fromStdString(h.yName));
    xAxis->setRange(-0.5, nx - 0.5);
    yAxis->setRange(-0.5, ny - 0.5);
    m_highlight = addGraph();
    m_highlight->setLineStyle(QCPGraph::lsNone);
    m_highlight->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, QPen(QColor(255, 40, 40), 3), Qt::NoBrush, 30));
    replot(rpQueuedReplot);
}

void HeatmapPlot::highlightPoint(int point) {
    if (!m_highlight || !m_sweep) return;
    m_highlight->data()->clear();
    if (point >= 0 && point < static_cast<int>(m_sweep->points.size()) && !m_xs.empty()) {
        const auto& p = m_sweep->points[static_cast<std::size_t>(point)];
        const auto xi = std::find(m_xs.begin(), m_xs.end(), p.params[0]) - m_xs.begin();
        const auto yi = std::find(m_ys.begin(), m_ys.end(), p.params[1]) - m_ys.begin();
        m_highlight->addData(static_cast<double>(xi), static_cast<double>(yi));
    }
    replot(rpQueuedReplot);
}

// ---- interference -------------------------------------------------------------------------

InterferencePlot::InterferencePlot(QWidget* parent) : QCustomPlot(parent) {
    stylePlot(this);
    showReport(nullptr);
}

void InterferencePlot::showReport(const core::analysis::InterferenceReport* r) {
    clearPlottables();
    clearItems();
    plotLayout()->clear();
    if (!r) {
        auto* rect = new QCPAxisRect(this);
        plotLayout()->addElement(0, 0, rect);
        showPlaceholder(this, tr("task interference: open a kit (Models panel) and press Analyse"));
        replot(rpQueuedReplot);
        return;
    }
    const QStringList tasks = toQt(r->tasks);
    const int T = tasks.size();
    // Left: cosine matrix of the task vectors (whole model).
    auto* left = new QCPAxisRect(this);
    auto* right = new QCPAxisRect(this);
    auto* bottom = new QCPAxisRect(this);
    auto* title = new QCPTextElement(
        this, tr("Task vectors: cosine similarity (left), sign conflicts and norms per block (right)\n"
                 "whole model: mean pairwise cosine %1, sign conflicts %2%")
                  .arg(r->all.meanPairwiseCosine(), 0, 'f', 3)
                  .arg(100.0 * r->all.signConflictRate, 0, 'f', 1));
    plotLayout()->addElement(0, 0, title);
    auto* row = new QCPLayoutGrid;
    plotLayout()->addElement(1, 0, row);
    row->addElement(0, 0, left);
    auto* scale = new QCPColorScale(this);
    row->addElement(0, 1, scale);
    auto* rightCol = new QCPLayoutGrid;
    row->addElement(0, 2, rightCol);
    rightCol->addElement(0, 0, right);
    rightCol->addElement(1, 0, bottom);
    row->setColumnStretchFactors({1.0, 0.08, 1.2});
    for (auto* rect : {left, right, bottom})
        for (QCPAxis* a : rect->axes()) a->grid()->setPen(QPen(QColor(225, 225, 225)));
    auto* map = new QCPColorMap(left->axis(QCPAxis::atBottom), left->axis(QCPAxis::atLeft));
    map->setInterpolate(false);
    map->data()->setSize(T, T);
    map->data()->setRange(QCPRange(0, T - 1), QCPRange(0, T - 1));
    for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j) {
            const double v = r->all.cosine[static_cast<std::size_t>(i * T + j)];
            map->data()->setCell(j, T - 1 - i, v);
            cellText(this, left->axis(QCPAxis::atBottom), left->axis(QCPAxis::atLeft), j, T - 1 - i, v);
        }
    map->setColorScale(scale);
    map->setGradient(divergingGradient());
    map->setDataRange(QCPRange(-1, 1));
    scale->axis()->setLabel(tr("cosine"));
    QStringList reversed;
    for (int i = T - 1; i >= 0; --i) reversed << tasks[i];
    categoryTicks(left->axis(QCPAxis::atBottom), tasks);
    categoryTicks(left->axis(QCPAxis::atLeft), reversed);
    left->axis(QCPAxis::atBottom)->setTickLabelRotation(25);
    left->axis(QCPAxis::atBottom)->setRange(-0.5, T - 0.5);
    left->axis(QCPAxis::atLeft)->setRange(-0.5, T - 0.5);
    // Right top: sign-conflict rate per block; right bottom: ‖τ_t‖ per block.
    QStringList blocks;
    QVector<double> keys, conflicts;
    for (std::size_t b = 0; b < r->blocks.size(); ++b) {
        blocks << QString::fromStdString(r->blocks[b].name);
        keys << static_cast<double>(b);
        conflicts << r->blocks[b].signConflictRate;
    }
    auto* bars = new QCPBars(right->axis(QCPAxis::atBottom), right->axis(QCPAxis::atLeft));
    bars->setData(keys, conflicts);
    bars->setBrush(QColor(120, 120, 120, 160));
    bars->setPen(QPen(QColor(80, 80, 80)));
    bars->setName(tr("sign-conflict rate"));
    categoryTicks(right->axis(QCPAxis::atBottom), blocks);
    right->axis(QCPAxis::atBottom)->setRange(-0.6, blocks.size() - 0.4);
    right->axis(QCPAxis::atLeft)->setRange(0, 1);
    right->axis(QCPAxis::atLeft)->setLabel(tr("sign conflicts"));
    for (int t = 0; t < T; ++t) {
        QVector<double> norms;
        for (const auto& b : r->blocks) norms << b.norms[static_cast<std::size_t>(t)];
        auto* g = new QCPGraph(bottom->axis(QCPAxis::atBottom), bottom->axis(QCPAxis::atLeft));
        g->setData(keys, norms);
        g->setPen(QPen(taskColor(t), 2));
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, taskColor(t), 6));
        g->setName(tasks[t]);
    }
    categoryTicks(bottom->axis(QCPAxis::atBottom), blocks);
    bottom->axis(QCPAxis::atBottom)->setRange(-0.6, blocks.size() - 0.4);
    bottom->axis(QCPAxis::atLeft)->setLabel(tr("‖τ‖ per block"));
    bottom->axis(QCPAxis::atLeft)->rescale();
    bottom->axis(QCPAxis::atLeft)->setRangeLower(0);
    bottom->axis(QCPAxis::atLeft)->setRangeUpper(bottom->axis(QCPAxis::atLeft)->range().upper * 1.1);
    auto* legendBox = new QCPLegend;
    bottom->insetLayout()->addElement(legendBox, Qt::AlignBottom | Qt::AlignLeft);
    legendBox->setLayer(QStringLiteral("legend"));
    legendBox->setBrush(QColor(255, 255, 255, 220));
    for (int i = 0; i < graphCount(); ++i) graph(i)->addToLegend(legendBox);
    scalePlotFonts(this, 1.0);
    replot(rpQueuedReplot);
}

// ---- spectra -------------------------------------------------------------------------------

SpectraPlot::SpectraPlot(QWidget* parent) : QCustomPlot(parent) {
    stylePlot(this);
    showReport(nullptr);
}

void SpectraPlot::showReport(const core::analysis::SpectrumReport* r) {
    clearPlottables();
    clearItems();
    plotLayout()->clear();
    if (!r || r->blocks.empty()) {
        auto* rect = new QCPAxisRect(this);
        plotLayout()->addElement(0, 0, rect);
        showPlaceholder(this, r ? tr("no weight matrices to analyse") : tr("spectra: open a kit (Models panel) and press Analyse"));
        replot(rpQueuedReplot);
        return;
    }
    const QStringList tasks = toQt(r->tasks);
    const int T = tasks.size();
    double meanAniso = 0;
    for (const auto& b : r->blocks) meanAniso += b.anisotropy / static_cast<double>(r->blocks.size());
    auto* title = new QCPTextElement(
        this, tr("Effective rank of each task vector per block (left) · singular values of Σ τ / their mean (right)\n"
                 "Iso-C flattens the right-hand curves to 1; largest / mean now %1")
                  .arg(meanAniso, 0, 'f', 2));
    plotLayout()->addElement(0, 0, title);
    auto* row = new QCPLayoutGrid;
    plotLayout()->addElement(1, 0, row);
    auto* left = new QCPAxisRect(this);
    auto* right = new QCPAxisRect(this);
    row->addElement(0, 0, left);
    row->addElement(0, 1, right);
    for (auto* rect : {left, right})
        for (QCPAxis* a : rect->axes()) a->grid()->setPen(QPen(QColor(225, 225, 225)));
    QStringList blocks;
    QVector<double> keys;
    for (std::size_t b = 0; b < r->blocks.size(); ++b) {
        blocks << QString::fromStdString(r->blocks[b].name);
        keys << static_cast<double>(b);
    }
    for (int t = 0; t < T; ++t) {
        QVector<double> ranks;
        for (const auto& b : r->blocks) ranks << b.effectiveRank[static_cast<std::size_t>(t)];
        auto* g = new QCPGraph(left->axis(QCPAxis::atBottom), left->axis(QCPAxis::atLeft));
        g->setData(keys, ranks);
        g->setPen(QPen(taskColor(t), 2));
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, taskColor(t), 6));
        g->setName(tasks[t]);
    }
    QVector<double> sumRanks;
    for (const auto& b : r->blocks) sumRanks << b.sumEffectiveRank;
    auto* sum = new QCPGraph(left->axis(QCPAxis::atBottom), left->axis(QCPAxis::atLeft));
    sum->setData(keys, sumRanks);
    sum->setPen(QPen(QColor(60, 60, 60), 2, Qt::DashLine));
    sum->setName(tr("Σ τ"));
    categoryTicks(left->axis(QCPAxis::atBottom), blocks);
    left->axis(QCPAxis::atBottom)->setTickLabelRotation(25);
    left->axis(QCPAxis::atBottom)->setRange(-0.6, blocks.size() - 0.4);
    left->axis(QCPAxis::atLeft)->setLabel(tr("effective rank (mean over the block's matrices)"));
    left->axis(QCPAxis::atLeft)->rescale();
    left->axis(QCPAxis::atLeft)->setRangeLower(0);
    left->axis(QCPAxis::atLeft)->setRangeUpper(left->axis(QCPAxis::atLeft)->range().upper * 1.1);
    auto* legendBox = new QCPLegend;
    left->insetLayout()->addElement(legendBox, Qt::AlignBottom | Qt::AlignLeft);
    legendBox->setLayer(QStringLiteral("legend"));
    legendBox->setBrush(QColor(255, 255, 255, 220));
    for (int i = 0; i < graphCount(); ++i) graph(i)->addToLegend(legendBox);  // the left's only: drawn so far
    // Right: per block, the mean over its matrices of s_i / mean(s) at relative index i/k.
    // Colour by depth: light (first block) to dark (last).
    const auto depth = [](double f) {
        return QColor::fromRgbF(0.62 - 0.55 * f, 0.80 - 0.55 * f, 0.95 - 0.35 * f);
    };
    const int B = static_cast<int>(r->blocks.size());
    for (int b = 0; b < B; ++b) {
        std::vector<double> acc;
        int count = 0;
        for (const auto& m : r->matrices) {
            const bool inBlock = r->blocks[static_cast<std::size_t>(b)].name == "other" ? m.block < 0 : m.block == b;
            if (!inBlock || m.sumSingularValues.empty()) continue;
            double mean = 0;
            for (double v : m.sumSingularValues) mean += v / static_cast<double>(m.sumSingularValues.size());
            if (mean <= 0) continue;
            constexpr int kPoints = 64;  // resampled at fixed relative positions, so blocks of any width average
            if (acc.empty()) acc.assign(kPoints, 0.0);
            for (int i = 0; i < kPoints; ++i) {
                const std::size_t at = static_cast<std::size_t>(i) * (m.sumSingularValues.size() - 1) / (kPoints - 1);
                acc[static_cast<std::size_t>(i)] += m.sumSingularValues[at] / mean;
            }
            ++count;
        }
        if (!count) continue;
        QVector<double> x, y;
        for (std::size_t i = 0; i < acc.size(); ++i) {
            x << static_cast<double>(i) / static_cast<double>(acc.size() - 1);
            y << std::max(acc[i] / count, 1e-3);
        }
        auto* g = new QCPGraph(right->axis(QCPAxis::atBottom), right->axis(QCPAxis::atLeft));
        g->setData(x, y);
        g->setPen(QPen(depth(B > 1 ? static_cast<double>(b) / (B - 1) : 0.0), 1.6));
        g->removeFromLegend(legendBox);  // blocks are told apart by colour (the axis label says how)
    }
    auto* flat = new QCPItemStraightLine(this);
    flat->setClipAxisRect(right);
    flat->point1->setAxes(right->axis(QCPAxis::atBottom), right->axis(QCPAxis::atLeft));
    flat->point2->setAxes(right->axis(QCPAxis::atBottom), right->axis(QCPAxis::atLeft));
    flat->point1->setCoords(0, 1);
    flat->point2->setCoords(1, 1);
    flat->setPen(QPen(QColor(150, 150, 150), 1, Qt::DashLine));
    right->axis(QCPAxis::atLeft)->setScaleType(QCPAxis::stLogarithmic);
    right->axis(QCPAxis::atLeft)->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    right->axis(QCPAxis::atLeft)->rescale();
    right->axis(QCPAxis::atLeft)->setRangeLower(std::max(1e-3, right->axis(QCPAxis::atLeft)->range().lower));
    right->axis(QCPAxis::atLeft)->setLabel(tr("singular value of Σ τ / their mean"));
    right->axis(QCPAxis::atBottom)->setRange(0, 1);
    right->axis(QCPAxis::atBottom)->setLabel(tr("relative index i / k (colour: block, first → last)"));
    scalePlotFonts(this, 1.0);
    replot(rpQueuedReplot);
}

// ---- relations ----------------------------------------------------------------------------

RelationsPlot::RelationsPlot(QWidget* parent) : QCustomPlot(parent) {
    stylePlot(this);
    legend->setVisible(false);
    m_scale = new QCPColorScale(this);
    plotLayout()->addElement(0, 1, m_scale);
    showSweep(nullptr, 1.0);
}

void RelationsPlot::showSweep(const core::store::SweepRecord* sweep, double lambda) {
    clearItems();
    if (m_map) removePlottable(m_map);
    m_map = nullptr;
    if (!sweep || sweep->kind() != core::store::SweepKind::Relations || sweep->points.empty()) {
        m_scale->setVisible(false);
        showPlaceholder(this, tr("task relationships: run a relations sweep (Sweeps panel → Relations)"));
        replot(rpQueuedReplot);
        return;
    }
    const RelationsMatrix m = relationsMatrix(*sweep, lambda);
    const int T = static_cast<int>(m.tasks.size());
    m_scale->setVisible(true);
    xAxis->setVisible(true);
    yAxis->setVisible(true);
    m_map = new QCPColorMap(xAxis, yAxis);
    m_map->setInterpolate(false);
    m_map->data()->setSize(T, T);
    m_map->data()->setRange(QCPRange(0, T - 1), QCPRange(0, T - 1));
    for (int added = 0; added < T; ++added)
        for (int t = 0; t < T; ++t) {
            const double v = m.values[static_cast<std::size_t>(added * T + t)];
            m_map->data()->setCell(t, T - 1 - added, v);
            cellText(this, xAxis, yAxis, t, T - 1 - added, v);
        }
    m_map->setColorScale(m_scale);
    m_map->setGradient(sequentialGradient());
    m_map->setDataRange(QCPRange(0, 1));
    m_scale->axis()->setLabel(tr("normalized performance"));
    const QStringList tasks = toQt(m.tasks);
    QStringList reversed;
    for (int i = T - 1; i >= 0; --i) reversed << QStringLiteral("+ τ ") + tasks[i];
    categoryTicks(xAxis, tasks);
    categoryTicks(yAxis, reversed);
    xAxis->setLabel(tr("task scored (frozen heads), λ = %1").arg(lambda));
    yAxis->setLabel(tr("task vector added"));
    xAxis->setRange(-0.5, T - 0.5);
    yAxis->setRange(-0.5, T - 0.5);
    replot(rpQueuedReplot);
}

}  // namespace ms::ui

namespace ms::ui {

LearnedPlot::LearnedPlot(QWidget* parent) : QCustomPlot(parent) {
    stylePlot(this);
    showPoint(nullptr, -1);
}

void LearnedPlot::showPoint(const core::store::SweepRecord* sweep, int point) {
    clearPlottables();
    clearItems();
    plotLayout()->clear();
    const core::store::PointRecord* p =
        sweep && point >= 0 && point < static_cast<int>(sweep->points.size()) ? &sweep->points[static_cast<std::size_t>(point)] : nullptr;
    // The method's own declarations say which artifact is its curve and which its matrix.
    const core::merge::ArtifactSpec* curveSpec = nullptr;
    const core::merge::ArtifactSpec* matrixSpec = nullptr;
    const core::merge::MergeMethod* method = p ? core::merge::lookupMethod(sweep->method()) : nullptr;
    if (method)
        for (const auto& a : method->info().artifacts) {
            if (!p->artifacts.count(a.key)) continue;
            (a.kind == core::merge::ArtifactSpec::Kind::Curve ? curveSpec : matrixSpec) = &a;
        }
    if (!curveSpec || !matrixSpec) {
        plotLayout()->addElement(0, 0, new QCPAxisRect(this));
        showPlaceholder(this, tr("learned merges (adamerging, calm): queue one in the Sweeps panel, then select its point"));
        replot(rpQueuedReplot);
        return;
    }
    const auto& loss = p->artifacts.at(curveSpec->key);
    const auto& m = p->artifacts.at(matrixSpec->key);
    auto* title = new QCPTextElement(this, tr("%1 · %2: %3 (top), %4 (bottom)")
                                               .arg(QString::fromStdString(sweep->id), QString::fromStdString(sweep->method()),
                                                    QString::fromStdString(curveSpec->title), QString::fromStdString(matrixSpec->title)));
    plotLayout()->addElement(0, 0, title);
    auto* top = new QCPAxisRect(this);
    auto* bottom = new QCPAxisRect(this);
    plotLayout()->addElement(1, 0, top);
    plotLayout()->addElement(2, 0, bottom);
    plotLayout()->setRowStretchFactors({0.01, 1.0, 1.3});
    for (auto* rect : {top, bottom})
        for (QCPAxis* a : rect->axes()) a->grid()->setPen(QPen(QColor(225, 225, 225)));
    QVector<double> steps, values;
    for (std::size_t i = 0; i < loss.values.size(); ++i) steps << static_cast<double>(i + 1), values << loss.values[i];
    auto* curve = new QCPGraph(top->axis(QCPAxis::atBottom), top->axis(QCPAxis::atLeft));
    curve->setData(steps, values);
    curve->setPen(QPen(aggregateColor(), 1.5));
    curve->setName(tr("loss"));
    top->axis(QCPAxis::atBottom)->setLabel(tr("step"));
    top->axis(QCPAxis::atLeft)->setLabel(QString::fromStdString(curveSpec->valueLabel));
    curve->rescaleAxes();
    if (curveSpec->stagedByMatrixRows && m.shape.size() == 2 && m.shape[0] > 1) {  // one stage per matrix row, equally long
        const std::size_t stage = loss.values.size() / m.shape[0];
        for (std::size_t k = 1; k < m.shape[0]; ++k) {
            auto* line = new QCPItemStraightLine(this);
            line->setClipAxisRect(top);
            line->point1->setAxes(top->axis(QCPAxis::atBottom), top->axis(QCPAxis::atLeft));
            line->point2->setAxes(top->axis(QCPAxis::atBottom), top->axis(QCPAxis::atLeft));
            line->point1->setCoords(static_cast<double>(k * stage) + 0.5, 0);
            line->point2->setCoords(static_cast<double>(k * stage) + 0.5, 1);
            line->setPen(QPen(QColor(150, 150, 150), 1, Qt::DashLine));
        }
        top->axis(QCPAxis::atBottom)->setLabel(tr("step (dashed: the next task is added; the loss then covers one more task)"));
    }
    const std::size_t rows = m.shape.size() == 2 ? m.shape[0] : 0, cols = m.shape.size() == 2 ? m.shape[1] : 0;
    QStringList colNames;
    for (std::size_t c = 0; c < cols; ++c) {
        QString name = c < m.columns.size() ? QString::fromStdString(m.columns[c]) : QString::number(c);
        colNames << name;
    }
    auto* legendBox = new QCPLegend;
    bottom->insetLayout()->addElement(legendBox, Qt::AlignTop | Qt::AlignRight);
    legendBox->setLayer(QStringLiteral("legend"));
    legendBox->setBrush(QColor(255, 255, 255, 220));
    for (std::size_t r = 0; r < rows; ++r) {
        const QString name = r < m.rows.size() ? QString::fromStdString(m.rows[r]) : QString::number(r);
        const int colorIndex = static_cast<int>(std::find(sweep->tasks.begin(), sweep->tasks.end(),
                                                          r < m.rows.size() ? m.rows[r] : std::string()) - sweep->tasks.begin());
        QVector<double> x, y;
        for (std::size_t c = 0; c < cols; ++c) x << static_cast<double>(c), y << m.values[r * cols + c];
        auto* g = new QCPGraph(bottom->axis(QCPAxis::atBottom), bottom->axis(QCPAxis::atLeft));
        g->setData(x, y);
        g->setPen(QPen(taskColor(colorIndex), 1.8));
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, taskColor(colorIndex), cols > 30 ? 3 : 6));
        g->setName(name);
        g->addToLegend(legendBox);
    }
    QCPAxis* bx = bottom->axis(QCPAxis::atBottom);
    if (cols <= 12) {
        QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
        for (int c = 0; c < colNames.size(); ++c) ticker->addTick(c, colNames[c]);
        bx->setTicker(ticker);
    } else {
        bx->setLabel(tr("tensor index (tensors sorted by name: embeddings, blocks 0…N, final norm)"));
    }
    bx->setRange(-0.5, static_cast<double>(cols) - 0.5);
    bottom->axis(QCPAxis::atLeft)->setRange(0, 1.05);
    bottom->axis(QCPAxis::atLeft)->setLabel(QString::fromStdString(matrixSpec->valueLabel));
    scalePlotFonts(this, 1.0);
    replot(rpQueuedReplot);
}

}  // namespace ms::ui
