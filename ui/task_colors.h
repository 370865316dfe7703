// One colour per task, the same in every plot, table and readout; the aggregate in black.
#pragma once

#include <QColor>

namespace ms::ui {

QColor taskColor(int task);  // a qualitative palette (Okabe–Ito, colour-blind safe), cycling
QColor aggregateColor();

}  // namespace ms::ui
