// The Live merge panel: a λ slider (and the Strategy panel's settings) re-merge with `apply` and
// recompute the task alignment proxy on a small probe subset on a worker thread while the slider
// moves; the newest setting wins, stale work is cancelled. The read-out shows Â per task (bars
// in the task colours), their mean and min, and how long the last update took.
#pragma once

#include <QImage>
#include <QVector>
#include <QWidget>
#include <vector>

#include "core/session/kit_session.h"

class QSlider;
class QLabel;

namespace ms::ui {

class Workbench;
class StrategyPanel;
class DensePreviews;

// What each dense task's head makes of its first eval image with the live merge, beside the
// truth: classes in the task colours' palette, values in grey (the truth's range), normals as
// RGB of (n + 1)/2; unlabelled and invalid pixels hatched.
class DensePreviews : public QWidget {
    Q_OBJECT
public:
    explicit DensePreviews(QWidget* parent = nullptr);
    void setPreviews(std::vector<core::session::DensePreview> previews);
    const std::vector<core::session::DensePreview>& previews() const { return m_previews; }
    QSize sizeHint() const override;
    bool hasHeightForWidth() const override { return true; }
    int heightForWidth(int width) const override;

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    struct Images {
        QImage truth, merged, invalid;  // map size; invalid: one bit, 1 where hatched
    };
    std::vector<core::session::DensePreview> m_previews;
    std::vector<Images> m_images;  // made in setPreviews
};

class AlignmentBars : public QWidget {
    Q_OBJECT
public:
    explicit AlignmentBars(QWidget* parent = nullptr);
    // `errors`: an estimate's standard errors (whiskers at ±2 SE, values marked ≈); none: exact.
    void setValues(const QStringList& tasks, const QVector<double>& values, const QVector<double>& errors = {});
    bool showsEstimate() const { return !m_errors.isEmpty(); }
    QSize sizeHint() const override;

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    QStringList m_tasks;
    QVector<double> m_values, m_errors;
};

class LivePanel : public QWidget {
    Q_OBJECT
public:
    LivePanel(Workbench* workbench, StrategyPanel* strategy, QWidget* parent = nullptr);
    QSlider* lambdaSlider() const { return m_slider; }
    int updates() const { return m_updates; }      // full scores shown
    int estimates() const { return m_estimates; }  // first estimates shown

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
    DensePreviews* m_dense;
    int m_updates = 0, m_estimates = 0;
};

}  // namespace ms::ui
