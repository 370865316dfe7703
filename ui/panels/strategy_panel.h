// The Strategy panel: a method picker and its controls, generated from the method registry
// (numbers as spin boxes with the declared range and default, choices as combo boxes, the help
// text as tooltip), and one weight slider per task. changed() fires on every edit.
#pragma once

#include <QWidget>
#include <map>
#include <string>
#include <vector>

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
    // Numeric global parameters as set (λ included); choices are not passed to the live preview.
    std::map<std::string, double> numericParams() const;
    // "key=value" settings of every control except those in `except` (for sweeps: --set).
    std::vector<std::string> settings(const QStringList& except = {}) const;
    std::vector<double> taskWeights() const;
    // The per-block λ curve (control points spread over the blocks), empty when not in use.
    std::vector<double> lambdaBlocks() const;
    void setLambdaBlocks(const std::vector<double>& curve);  // empty: off
    void setParam(const QString& name, double value);
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
    void updateCurveEnabled();
};

}  // namespace ms::ui
