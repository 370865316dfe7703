#include "ui/task_colors.h"

namespace ms::ui {

QColor taskColor(int task) {
    static const QColor palette[] = {QColor(0, 114, 178),  QColor(230, 159, 0),  QColor(0, 158, 115), QColor(204, 121, 167),
                                     QColor(86, 180, 233), QColor(213, 94, 0),   QColor(240, 228, 66), QColor(100, 100, 100)};
    return palette[(task < 0 ? 0 : task) % 8];
}

QColor aggregateColor() { return QColor(20, 20, 20); }

}  // namespace ms::ui
