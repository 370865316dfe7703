// Shared look and behaviour of the workbench's plots: readable fonts, zoom/pan, legend toggling,
// hover read-outs, colour gradients, scaling for presentation mode, and export to PNG, SVG, PDF.
#pragma once

#include <QString>

class QCustomPlot;
class QCPColorGradient;
class QCPAxis;

namespace ms::ui {

void stylePlot(QCustomPlot* plot);
// Clicking a legend item hides or shows its plottable (greyed in the legend when hidden).
void enableLegendToggling(QCustomPlot* plot);
// Hovering near a data point of a graph shows "name: x = …, y = …" as a tooltip.
void enableHoverValues(QCustomPlot* plot);
// Font sizes × factor (presentation mode: 1.6; back to 1.0).
void scalePlotFonts(QCustomPlot* plot, double factor);

QCPColorGradient sequentialGradient();  // perceptually ordered, dark blue → yellow (viridis-like)
QCPColorGradient divergingGradient();   // blue → white → red, for values in [−1, 1]

// Writes the plot as .png (2× resolution), .svg or .pdf (vector), chosen by the suffix. Returns
// false with `error` set when the suffix is unknown or the file cannot be written.
bool exportPlot(QCustomPlot* plot, const QString& path, QString* error);

}  // namespace ms::ui
