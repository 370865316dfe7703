#include "ui/plots/sweep_plot.h"

#include "ui/plot_data.h"
#include "ui/plots/matrix_plots.h"
#include "ui/plots/plot_style.h"
#include "ui/task_colors.h"

namespace ms::ui {

SweepPlot::SweepPlot(QWidget* parent) : QCustomPlot(parent) {
    stylePlot(this);
    enableLegendToggling(this);
    enableHoverValues(this);
    yAxis2->setVisible(true);
    yAxis->setLabel(tr("proxy Â (dashed)"));
    yAxis2->setLabel(tr("normalized performance (solid)"));
    // The legend below the plot, in columns: ten entries would hide the curves.
    axisRect()->insetLayout()->take(legend);
    plotLayout()->addElement(1, 0, legend);
    plotLayout()->setRowStretchFactor(1, 0.001);
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    legend->setWrap(4);  // four columns: the widest entries fit a 1600-pixel window beside the docks
    legend->setMargins(QMargins(6, 2, 6, 2));
    showSweep(nullptr, {});
}

void SweepPlot::showSweep(const core::store::SweepRecord* sweep, const std::string& variant, core::store::DownstreamAggregate downstream) {
    m_sweep = sweep;
    m_variant = variant;
    clearGraphs();
    clearItems();
    m_highlight = nullptr;
    if (!sweep || sweep->points.empty() || sweep->kind() == core::store::SweepKind::Relations) {
        xAxis->setLabel({});
        showPlaceholder(this, sweep && sweep->kind() == core::store::SweepKind::Relations ? tr("a relations sweep: see the Relations tab")
                                                                   : tr("no points yet: run a sweep (Sweeps panel)"));
        legend->setVisible(false);
        replot(rpQueuedReplot);
        return;
    }
    for (QCPAxis* a : {xAxis, yAxis, yAxis2}) a->setVisible(true);
    legend->setVisible(true);
    m_downstream = downstream;
    const bool delta = downstream == core::store::DownstreamAggregate::DeltaMtl && !sweep->metricNames.empty();
    yAxis2->setLabel(delta ? tr("Δ (solid; mean: ΔMTL)") : tr("normalized performance (solid)"));
    const SweepCurves c = sweepCurves(*sweep, variant, -1, downstream);
    xAxis->setLabel(QString::fromStdString(c.xName));
    auto add = [&](const Series& s, bool proxy) {
        QCPGraph* g = addGraph(xAxis, proxy ? yAxis : yAxis2);
        g->setData(QVector<double>(s.x.begin(), s.x.end()), QVector<double>(s.y.begin(), s.y.end()), true);
        const QColor color = s.task >= 0 ? taskColor(s.task) : aggregateColor();
        QPen pen(color, s.task >= 0 ? 1.6 : 3.0, proxy ? Qt::DashLine : Qt::SolidLine);
        g->setPen(pen);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, color, s.task >= 0 ? 4 : 6));
        g->setName(QString::fromStdString(s.name) + (proxy ? tr(" · proxy") : tr(" · downstream")));
        return g;
    };
    for (const auto& s : c.proxy) add(s, true);
    for (const auto& s : c.downstream) add(s, false);
    // Best points, on the mean curves.
    auto mark = [&](int point, bool proxy, QCPScatterStyle::ScatterShape shape, const QString& name) {
        if (point < 0) return;
        const auto& p = sweep->points[static_cast<std::size_t>(point)];
        const int col = static_cast<int>(std::find(sweep->paramNames.begin(), sweep->paramNames.end(), c.xName) - sweep->paramNames.begin());
        const double x = p.params[static_cast<std::size_t>(col)];
        const double y = proxy ? p.proxyMean(variant) : p.downstream(downstream);
        if (!std::isfinite(y)) return;
        QCPGraph* g = addGraph(xAxis, proxy ? yAxis : yAxis2);
        g->setData({x}, {y});
        g->setLineStyle(QCPGraph::lsNone);
        g->setScatterStyle(QCPScatterStyle(shape, QPen(QColor(200, 30, 30), 2.5), Qt::NoBrush, 16));
        g->setName(name);
    };
    mark(c.bestProxy, true, QCPScatterStyle::ssCircle, tr("best by proxy"));
    mark(c.bestDownstream, false, QCPScatterStyle::ssDiamond, tr("best downstream"));
    m_highlight = addGraph(xAxis, yAxis2);
    m_highlight->setLineStyle(QCPGraph::lsNone);
    m_highlight->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(QColor(20, 20, 20), 2), QColor(255, 255, 0, 160), 14));
    m_highlight->setName(tr("selected"));
    m_highlight->removeFromLegend();
    rescaleAxes();
    for (QCPAxis* a : {yAxis, yAxis2}) {
        const QCPRange r = a->range();
        const double pad = std::max(0.02, r.size() * 0.08);
        a->setRange(r.lower - pad, r.upper + pad);
    }
    const QCPRange xr = xAxis->range();
    xAxis->setRange(xr.lower - xr.size() * 0.03, xr.upper + xr.size() * 0.03);
    replot(rpQueuedReplot);
}

void SweepPlot::highlightPoint(int point) {
    if (!m_highlight || !m_sweep) return;
    m_highlight->data()->clear();
    const auto it = std::find(m_sweep->paramNames.begin(), m_sweep->paramNames.end(), xAxis->label().toStdString());
    if (point >= 0 && point < static_cast<int>(m_sweep->points.size()) && it != m_sweep->paramNames.end()) {
        // On the mean downstream curve (right axis), or the mean proxy curve (left) without downstream.
        const auto& p = m_sweep->points[static_cast<std::size_t>(point)];
        const double x = p.params[static_cast<std::size_t>(it - m_sweep->paramNames.begin())];
        m_highlight->setValueAxis(p.hasDownstream() ? yAxis2 : yAxis);
        const double y = p.hasDownstream() ? p.downstream(m_downstream) : p.proxyMean(m_variant);
        if (std::isfinite(y)) m_highlight->addData(x, y);
    }
    replot(rpQueuedReplot);
}

}  // namespace ms::ui
