#include "ui/plots/plot_style.h"

#include <QFileInfo>
#include <QSvgGenerator>
#include <QToolTip>
#include <cmath>
#include <qcustomplot.h>

namespace ms::ui {

void stylePlot(QCustomPlot* plot) {
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom | QCP::iSelectLegend);
    plot->setAntialiasedElements(QCP::aeAll);
    plot->legend->setVisible(true);
    plot->legend->setBrush(QColor(255, 255, 255, 220));
    plot->legend->setBorderPen(QPen(QColor(200, 200, 200)));
    plot->legend->setSelectableParts(QCPLegend::spItems);
    plot->legend->setSelectedIconBorderPen(Qt::NoPen);
    for (QCPAxis* a : {plot->xAxis, plot->yAxis, plot->xAxis2, plot->yAxis2}) {
        a->grid()->setPen(QPen(QColor(225, 225, 225), 0, Qt::SolidLine));
        a->setBasePen(QPen(QColor(90, 90, 90)));
        a->setTickPen(QPen(QColor(90, 90, 90)));
        a->setSubTickPen(QPen(QColor(150, 150, 150)));
    }
    plot->setNoAntialiasingOnDrag(true);
    scalePlotFonts(plot, 1.0);
}

void scalePlotFonts(QCustomPlot* plot, double factor) {
    QFont base = plot->font();
    base.setPointSizeF(9.0 * factor);
    QFont label = base;
    label.setPointSizeF(10.0 * factor);
    for (int i = 0; i < plot->axisRectCount(); ++i)
        for (QCPAxis* a : plot->axisRect(i)->axes()) {
            a->setTickLabelFont(base);
            a->setLabelFont(label);
        }
    if (plot->legend) plot->legend->setFont(base);  // null when a custom layout replaced the default one
    for (int i = 0; i < plot->itemCount(); ++i)
        if (auto* t = qobject_cast<QCPItemText*>(plot->item(i))) {
            QFont f = t->font();
            f.setPointSizeF(t->property("msBaseSize").isValid() ? t->property("msBaseSize").toDouble() * factor : 8.5 * factor);
            t->setFont(f);
        }
    for (int i = 0; i < plot->plotLayout()->elementCount(); ++i)
        if (auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i))) {
            QFont f = title->font();
            f.setPointSizeF(11.0 * factor);
            f.setBold(true);
            title->setFont(f);
        }
    plot->replot(QCustomPlot::rpQueuedReplot);
}

void enableLegendToggling(QCustomPlot* plot) {
    QObject::connect(plot, &QCustomPlot::legendClick, plot, [plot](QCPLegend*, QCPAbstractLegendItem* item, QMouseEvent*) {
        auto* pli = qobject_cast<QCPPlottableLegendItem*>(item);
        if (!pli) return;
        QCPAbstractPlottable* p = pli->plottable();
        p->setVisible(!p->visible());
        pli->setTextColor(p->visible() ? Qt::black : QColor(170, 170, 170));
        plot->replot(QCustomPlot::rpQueuedReplot);
    });
}

void enableHoverValues(QCustomPlot* plot) {
    plot->setMouseTracking(true);
    QObject::connect(plot, &QCustomPlot::mouseMove, plot, [plot](QMouseEvent* e) {
        const QPointF pos = e->position();
        double bestDist = 12.0;  // pixels
        QString text;
        for (int g = 0; g < plot->graphCount(); ++g) {
            QCPGraph* graph = plot->graph(g);
            if (!graph->visible()) continue;
            for (auto it = graph->data()->constBegin(); it != graph->data()->constEnd(); ++it) {
                const double px = graph->keyAxis()->coordToPixel(it->key), py = graph->valueAxis()->coordToPixel(it->value);
                const double d = std::hypot(px - pos.x(), py - pos.y());
                if (d < bestDist) {
                    bestDist = d;
                    text = QStringLiteral("%1\n%2 = %3\n%4 = %5")
                               .arg(graph->name(), graph->keyAxis()->label(), QString::number(it->key, 'g', 4),
                                    graph->valueAxis()->label(), QString::number(it->value, 'f', 4));
                }
            }
        }
        if (text.isEmpty()) QToolTip::hideText();
        else QToolTip::showText(e->globalPosition().toPoint(), text, plot);
    });
}

static QCPColorGradient fromStops(std::initializer_list<std::pair<double, QColor>> stops) {
    QCPColorGradient g;
    g.clearColorStops();
    for (const auto& [at, c] : stops) g.setColorStopAt(at, c);
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setNanHandling(QCPColorGradient::nhTransparent);
    return g;
}

QCPColorGradient sequentialGradient() {
    return fromStops({{0.0, QColor(68, 1, 84)}, {0.25, QColor(59, 82, 139)}, {0.5, QColor(33, 145, 140)},
                      {0.75, QColor(94, 201, 98)}, {1.0, QColor(253, 231, 37)}});
}

QCPColorGradient divergingGradient() {
    return fromStops({{0.0, QColor(33, 102, 172)}, {0.5, QColor(247, 247, 247)}, {1.0, QColor(178, 24, 43)}});
}

bool exportPlot(QCustomPlot* plot, const QString& path, QString* error) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    const int w = plot->width() > 50 ? plot->width() : 1000, h = plot->height() > 50 ? plot->height() : 700;
    bool ok = false;
    if (suffix == QStringLiteral("png")) {
        ok = plot->savePng(path, w, h, 2.0);
    } else if (suffix == QStringLiteral("pdf")) {
        ok = plot->savePdf(path, w, h);
    } else if (suffix == QStringLiteral("svg")) {
        QSvgGenerator svg;
        svg.setFileName(path);
        svg.setSize(QSize(w, h));
        svg.setViewBox(QRect(0, 0, w, h));
        svg.setTitle(QStringLiteral("MergeScope plot"));
        QCPPainter painter;
        if (painter.begin(&svg)) {
            plot->toPainter(&painter, w, h);
            ok = painter.end() && QFileInfo(path).size() > 0;
        }
    } else {
        if (error) *error = QStringLiteral("unknown image format '%1' (png, svg, pdf)").arg(suffix);
        return false;
    }
    if (!ok && error) *error = QStringLiteral("cannot write %1").arg(path);
    return ok;
}

}  // namespace ms::ui
