// The central plots: a sweep picker and proxy-variant picker, then five tabs — sweep curves,
// proxy vs downstream scatter, 2-D heatmap, task interference, task relationships. Plots follow
// the experiment as points arrive (queued replots) and highlight the selected point.
#pragma once

#include <QWidget>

class QComboBox;
class QTabWidget;
class QLabel;
class QCustomPlot;
class QPushButton;

namespace ms::ui {

class Workbench;
class SweepPlot;
class ScatterPlot;
class HeatmapPlot;
class InterferencePlot;
class SpectraPlot;
class RelationsPlot;
class LearnedPlot;

class PlotsPanel : public QWidget {
    Q_OBJECT
public:
    explicit PlotsPanel(Workbench* workbench, QWidget* parent = nullptr);
    QTabWidget* tabs() const { return m_tabs; }
    QCustomPlot* currentPlot() const;
    QCustomPlot* plot(int index) const;
    int plotCount() const;
    void setPresentation(bool on);
    void selectSweep(const QString& id);
    QString currentSweepId() const;
    // The welcome overlay with "build demo kit" / "open kit" when no kit is open.
    void setWelcomeVisible(bool visible);

public slots:
    void highlight(int sweepIndex, int point);
    void refresh();

signals:
    void buildDemoRequested();
    void openKitRequested();

private:
    Workbench* m_workbench;
    QComboBox* m_sweep;
    QComboBox* m_variant;
    QComboBox* m_heatValue;
    QComboBox* m_downstreamKind;  // mean normalized performance | ΔMTL
    QComboBox* m_lambda;
    QTabWidget* m_tabs;
    QWidget* m_welcome;
    SweepPlot* m_sweepPlot;
    ScatterPlot* m_scatter;
    HeatmapPlot* m_heatmap;
    InterferencePlot* m_interference;
    SpectraPlot* m_spectra;
    RelationsPlot* m_relations;
    LearnedPlot* m_learned;
    int m_highlightSweep = -1, m_highlightPoint = -1;
    bool m_refreshing = false;
};

}  // namespace ms::ui
