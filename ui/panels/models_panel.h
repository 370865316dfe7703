// The Models panel: the kit's base and experts (format, size, parameters, task, head, hash
// status), plus checkpoints the user drops or adds (any supported format), each checked against
// the base with the compatibility report shown where it does not fit. Buttons open or build a kit
// and start the interference analysis.
#pragma once

#include <QWidget>

class QTreeWidget;
class QPushButton;
class QLabel;

namespace ms::ui {

class Workbench;

class ModelsPanel : public QWidget {
    Q_OBJECT
public:
    explicit ModelsPanel(Workbench* workbench, QWidget* parent = nullptr);
    // Adds a checkpoint (or opens a kit when `path` is a kit directory or its kit.yaml).
    void addPath(const QString& path);

signals:
    void openKitRequested();

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void refresh();
    Workbench* m_workbench;
    QTreeWidget* m_tree;
    QLabel* m_summary;
    QPushButton* m_analyse;
    QStringList m_extra;  // checkpoints added by the user
};

}  // namespace ms::ui
