// The Strategy panel: a method picker and its controls, generated from the method registry
// (numbers as spin boxes with the declared range and default, choices as combo boxes, the help
// text as tooltip), one weight slider per task and the per-block λ curve. What it shows is one
// value, settings(): the live preview, queued sweeps and saved models all take it as it is.
// changed() fires on every edit.
#pragma once

#include <QWidget>
#include <map>
#include <string>
#include <vector>

#include "core/merge/merge_spec.h"

class QComboBox;
class QCheckBox;
class QCustomPlot;
class QCPGraph;
class QFormLayout;
class QSlider;
class QLabel;

namespace ms::ui {

class StrategyPanel : public QWidget {
    Q_OBJECT
public:
    explicit StrategyPanel(QWidget* parent = nullptr);
    void setTasks(const QStringList& tasks);
    QString method() const;
    void setMethod(const QString& name);
    // The merge as set: method, every parameter (numbers and choices), one model per task (named,
    // with its weight where the method takes weights), the λ curve. Base and model files are the
    // kit's (KitSession::bind).
    core::merge::MergeSpec settings() const;
    std::vector<double> taskWeights() const;
    // The per-block λ curve (control points spread over the blocks), empty when not in use.
    std::vector<double> lambdaBlocks() const;
    void setLambdaBlocks(const std::vector<double>& curve);  // empty: off
    void setParam(const QString& name, double value);
    void setChoice(const QString& name, const QString& value);
    double param(const QString& name) const;  // NaN when the method has no such number
    bool hasParam(const QString& name) const;

signals:
    void changed();

private:
    void rebuildControls();
    QComboBox* m_method;
    QLabel* m_summary;
    QFormLayout* m_form;
    QWidget* m_formHost;
    QFormLayout* m_weights;
    QWidget* m_weightsHost;
    std::map<std::string, QWidget*> m_controls;
    std::vector<QSlider*> m_weightSliders;
    QWidget* m_curveHost;
    QCheckBox* m_curveOn;
    QCustomPlot* m_curve;
    QCPGraph* m_curvePoints;
    int m_dragged = -1;
    bool m_curveUntouched = true;  // the curve has not been edited: switching it on starts it at λ
    void updateCurveEnabled();
    void restCurveAtLambda();
};

}  // namespace ms::ui
