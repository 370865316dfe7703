#include "ui/screenshot.h"

#include <QApplication>
#include <QLayout>
#include <QPixmap>
#include <QResizeEvent>
#include <QWidget>
#include <qcustomplot.h>

namespace ms::ui {

bool saveScreenshot(QWidget& widget, const QString& path, int width, int height, QString* error) {
    widget.resize(width, height);
    widget.ensurePolished();
    if (widget.layout()) widget.layout()->activate();
    // Plots draw into a buffer on their next (queued) replot: lay them out and draw them now.
    for (QCustomPlot* plot : widget.findChildren<QCustomPlot*>()) {
        if (!plot->isVisibleTo(&widget)) continue;
        QResizeEvent resize(plot->size(), plot->size());
        QCoreApplication::sendEvent(plot, &resize);
        plot->replot(QCustomPlot::rpImmediateRefresh);
    }
    const QPixmap pixmap = widget.grab();
    if (pixmap.isNull() || !pixmap.save(path, "PNG")) {
        if (error) *error = QStringLiteral("cannot write screenshot to %1").arg(path);
        return false;
    }
    return true;
}

}  // namespace ms::ui
