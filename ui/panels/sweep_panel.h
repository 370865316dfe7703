// The Sweeps panel: define a sweep — its kind (merge or SIMO relations), up to two grid axes,
// per-task weight sampling, proxy variants and downstream mode; the method and its fixed
// settings come from the Strategy panel — queue several, pause, resume or cancel; each job shows
// its state, points done and ETA. Results stream into the plots and the table as points complete.
#pragma once

#include <QWidget>

class QComboBox;
class QLineEdit;
class QTableWidget;
class QPushButton;

namespace ms::ui {

class Workbench;
class StrategyPanel;

class SweepPanel : public QWidget {
    Q_OBJECT
public:
    SweepPanel(Workbench* workbench, StrategyPanel* strategy, QWidget* parent = nullptr);
    // Queues the sweep as the form describes it; false (and a message) when the form is invalid.
    bool queueFromForm(QString* error = nullptr);
    void setGrid(const QString& first, const QString& second = {});
    void setDownstream(const QString& mode);
    void setKind(const QString& kind);

private:
    void refreshQueue();
    Workbench* m_workbench;
    StrategyPanel* m_strategy;
    QComboBox* m_kind;
    QLineEdit* m_grid1;
    QLineEdit* m_grid2;
    QLineEdit* m_taskWeights;
    QLineEdit* m_proxies;
    QComboBox* m_downstream;
    QTableWidget* m_queue;
    QPushButton* m_pause;
};

}  // namespace ms::ui
