// Plots 2–5: proxy vs downstream scatter with the proxy-quality statistics in the legend; a 2-D
// heatmap for two-parameter sweeps; task interference (cosine matrix of task vectors, and per
// block the sign-conflict rate and task-vector norms); the SIMO task-relationship matrix.
#pragma once

#include <qcustomplot.h>

#include "core/analysis/interference.h"
#include "core/store/experiment.h"

namespace ms::ui {

class ScatterPlot : public QCustomPlot {
    Q_OBJECT
public:
    explicit ScatterPlot(QWidget* parent = nullptr);
    void showSweep(const core::store::SweepRecord* sweep, const std::string& proxyVariant,
                   core::store::DownstreamAggregate downstream = core::store::DownstreamAggregate::MeanNormalized);
    void highlightPoint(int point);

private:
    const core::store::SweepRecord* m_sweep = nullptr;
    std::string m_variant;
    core::store::DownstreamAggregate m_downstream = core::store::DownstreamAggregate::MeanNormalized;
    QCPGraph* m_highlight = nullptr;
};

class HeatmapPlot : public QCustomPlot {
    Q_OBJECT
public:
    explicit HeatmapPlot(QWidget* parent = nullptr);
    // downstream: mean normalized performance, else the proxy's mean.
    void showSweep(const core::store::SweepRecord* sweep, const std::string& proxyVariant, bool downstream,
                   core::store::DownstreamAggregate aggregate = core::store::DownstreamAggregate::MeanNormalized);
    void highlightPoint(int point);

private:
    const core::store::SweepRecord* m_sweep = nullptr;
    QCPColorMap* m_map = nullptr;
    QCPColorScale* m_scale = nullptr;
    QCPGraph* m_highlight = nullptr;
    std::vector<double> m_xs, m_ys;  // the grid's column and row values
};

class InterferencePlot : public QCustomPlot {
    Q_OBJECT
public:
    explicit InterferencePlot(QWidget* parent = nullptr);
    void showReport(const core::analysis::InterferenceReport* report);
};

// The spectra of the weight matrices (mergescope-cli analyze --spectra): per block each task
// vector's effective rank (left) and the singular values of Σ_t τ_t over their mean, per block
// (right; the quantity Iso-C flattens to 1).
class SpectraPlot : public QCustomPlot {
    Q_OBJECT
public:
    explicit SpectraPlot(QWidget* parent = nullptr);
    void showReport(const core::analysis::SpectrumReport* report);
};

class RelationsPlot : public QCustomPlot {
    Q_OBJECT
public:
    explicit RelationsPlot(QWidget* parent = nullptr);
    void showSweep(const core::store::SweepRecord* sweep, double lambda);

private:
    QCPColorMap* m_map = nullptr;
    QCPColorScale* m_scale = nullptr;
};

// What a learned method (adamerging, calm) learned at one point: its loss curve (top) and its
// coefficients per tensor per task, or its mask density per block per added task (bottom).
class LearnedPlot : public QCustomPlot {
    Q_OBJECT
public:
    explicit LearnedPlot(QWidget* parent = nullptr);
    void showPoint(const core::store::SweepRecord* sweep, int point);
};

// A message in the middle of an empty plot.
void showPlaceholder(QCustomPlot* plot, const QString& text);

}  // namespace ms::ui
