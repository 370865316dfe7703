// Renders a widget to a PNG file at a given size (used by --screenshot, the tests and docs/).
#pragma once

#include <QString>

class QWidget;

namespace ms::ui {

// Resizes `widget` to width×height, lays it out, renders it and saves a PNG. Returns false and
// sets `error` when the file cannot be written.
bool saveScreenshot(QWidget& widget, const QString& path, int width, int height, QString* error);

}  // namespace ms::ui
