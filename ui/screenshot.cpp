#include "ui/screenshot.h"

#include <QApplication>
#include <QLayout>
#include <QPixmap>
#include <QWidget>

namespace ms::ui {

bool saveScreenshot(QWidget& widget, const QString& path, int width, int height, QString* error) {
    widget.resize(width, height);
    widget.ensurePolished();
    if (widget.layout()) widget.layout()->activate();
    const QPixmap pixmap = widget.grab();
    if (pixmap.isNull() || !pixmap.save(path, "PNG")) {
        if (error) *error = QStringLiteral("cannot write screenshot to %1").arg(path);
        return false;
    }
    return true;
}

}  // namespace ms::ui
