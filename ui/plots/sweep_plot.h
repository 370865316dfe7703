// Plot 1: proxy (left axis, dashed) and downstream (right axis, solid) against the swept
// parameter, per task and their mean (thick); the best point by proxy (circle) and by downstream
// (diamond) marked; the selected point ringed. Hover shows values; legend items toggle curves.
#pragma once

#include <qcustomplot.h>

#include "core/store/experiment.h"

namespace ms::ui {

class SweepPlot : public QCustomPlot {
    Q_OBJECT
public:
    explicit SweepPlot(QWidget* parent = nullptr);
    void showSweep(const core::store::SweepRecord* sweep, const std::string& proxyVariant,
                   core::store::DownstreamAggregate downstream = core::store::DownstreamAggregate::MeanNormalized);
    void highlightPoint(int point);  // -1: none

private:
    const core::store::SweepRecord* m_sweep = nullptr;
    std::string m_variant;
    core::store::DownstreamAggregate m_downstream = core::store::DownstreamAggregate::MeanNormalized;
    QCPGraph* m_highlight = nullptr;
};

}  // namespace ms::ui
