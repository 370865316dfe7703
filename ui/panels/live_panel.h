// The Live merge panel: a λ slider (and the Strategy panel's settings) re-merge with `apply` and
// recompute the task alignment proxy on a small probe subset on a worker thread while the slider
// moves; the newest setting wins, stale work is cancelled. The read-out shows Â per task (bars
// in the task colours), their mean and min, and how long the last update took.
#pragma once

#include <QVector>
#include <QWidget>

class QSlider;
class QLabel;

namespace ms::ui {

class Workbench;
class StrategyPanel;

class AlignmentBars : public QWidget {
    Q_OBJECT
public:
    explicit AlignmentBars(QWidget* parent = nullptr);
    void setValues(const QStringList& tasks, const QVector<double>& values);
    QSize sizeHint() const override;

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    QStringList m_tasks;
    QVector<double> m_values;
};

class LivePanel : public QWidget {
    Q_OBJECT
public:
    LivePanel(Workbench* workbench, StrategyPanel* strategy, QWidget* parent = nullptr);
    QSlider* lambdaSlider() const { return m_slider; }
    int updates() const { return m_updates; }

public slots:
    void request();
    void followStrategy();  // the slider shows the Strategy panel's λ

private:
    Workbench* m_workbench;
    StrategyPanel* m_strategy;
    QSlider* m_slider;
    QLabel* m_lambda;
    QLabel* m_readout;
    AlignmentBars* m_bars;
    int m_updates = 0;
};

}  // namespace ms::ui
