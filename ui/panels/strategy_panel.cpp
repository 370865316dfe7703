#include "ui/panels/strategy_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QSlider>
#include <QCheckBox>
#include <QPushButton>
#include <QHBoxLayout>
#include <QVBoxLayout>
#include <cmath>
#include <qcustomplot.h>

#include "core/merge/lambda_schedule.h"
#include "core/merge/method_registry.h"
#include "ui/task_colors.h"

namespace ms::ui {

StrategyPanel::StrategyPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    m_method = new QComboBox(this);
    m_method->setObjectName(QStringLiteral("methodCombo"));
    for (const auto* m : core::merge::allMethods()) {
        m_method->addItem(QString::fromStdString(m->info().name));
        m_method->setItemData(m_method->count() - 1, QString::fromStdString(m->info().summary), Qt::ToolTipRole);
    }
    layout->addWidget(m_method);
    m_summary = new QLabel(this);
    m_summary->setWordWrap(true);
    m_summary->setStyleSheet(QStringLiteral("color: #555"));
    layout->addWidget(m_summary);
    m_formHost = new QWidget(this);
    m_form = new QFormLayout(m_formHost);
    m_form->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_formHost);
    // The per-block λ curve: control points spread evenly over the blocks (interpolated in
    // between, as mergekit's gradients); drag a point up or down.
    auto* curveBox = new QGroupBox(tr("λ per block"), this);
    m_curveHost = curveBox;
    auto* curveLayout = new QVBoxLayout(curveBox);
    m_curveOn = new QCheckBox(tr("a curve over the blocks"), curveBox);
    m_curveOn->setToolTip(tr("use a λ curve over the transformer blocks instead of one λ"));
    m_curveOn->setObjectName(QStringLiteral("curveCheck"));
    curveLayout->addWidget(m_curveOn);
    m_curve = new QCustomPlot(curveBox);
    m_curve->setObjectName(QStringLiteral("lambdaCurve"));
    m_curve->setMinimumHeight(120);
    m_curve->setMinimumWidth(120);
    m_curve->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_curve->setMaximumHeight(150);
    m_curve->xAxis->setRange(-0.08, 1.08);
    m_curve->yAxis->setRange(0, 2.0);
    m_curve->xAxis->setTickLabels(false);
    m_curve->xAxis->setLabel(tr("first block → last block"));
    m_curve->yAxis->setLabel(QStringLiteral("λ"));
    m_curvePoints = m_curve->addGraph();
    m_curvePoints->setPen(QPen(QColor(0, 114, 178), 2));
    m_curvePoints->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(QColor(0, 114, 178), 2), Qt::white, 9));
    m_curvePoints->setData({0.0, 1.0 / 3, 2.0 / 3, 1.0}, {0.3, 0.3, 0.3, 0.3});
    m_curve->setToolTip(tr("drag a point to change λ in that part of the encoder; embeddings and the final norm keep the global λ"));
    curveLayout->addWidget(m_curve);
    // LiNeS (Wang et al., ICLR 2025) as a preset: λ rising linearly from α at the first block to
    // α + β at the last, the tensors outside the blocks at α (what --lambda-blocks lines:α,β sets).
    auto* lines = new QHBoxLayout;
    lines->addWidget(new QLabel(tr("LiNeS α"), curveBox));
    auto* alpha = new QDoubleSpinBox(curveBox);
    alpha->setObjectName(QStringLiteral("linesAlpha"));
    alpha->setRange(0, 2);
    alpha->setSingleStep(0.05);
    alpha->setValue(0.2);
    lines->addWidget(alpha);
    lines->addWidget(new QLabel(QStringLiteral("β"), curveBox));
    auto* beta = new QDoubleSpinBox(curveBox);
    beta->setObjectName(QStringLiteral("linesBeta"));
    beta->setRange(-2, 2);
    beta->setSingleStep(0.05);
    beta->setValue(0.6);
    lines->addWidget(beta);
    auto* apply = new QPushButton(tr("Set"), curveBox);
    apply->setObjectName(QStringLiteral("linesApply"));
    apply->setToolTip(tr("LiNeS: λ = α at the first block rising linearly to α + β at the last; embeddings and the final norm at α "
                         "(the global λ becomes α)"));
    lines->addWidget(apply);
    for (QWidget* w : {static_cast<QWidget*>(alpha), static_cast<QWidget*>(beta), static_cast<QWidget*>(apply)}) {
        w->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Fixed);  // the row shrinks with the panel
        w->setMinimumWidth(36);
    }
    curveLayout->addLayout(lines);
    connect(apply, &QPushButton::clicked, this, [this, alpha, beta] {
        const auto schedule = core::merge::parseBlockSchedule(
            "lines:" + core::merge::paramValueText(alpha->value()) + "," + core::merge::paramValueText(beta->value()));
        if (schedule.lambda) setParam(QStringLiteral("lambda"), *schedule.lambda);
        setLambdaBlocks(schedule.curve);
        emit changed();
    });
    layout->addWidget(curveBox);
    connect(m_curveOn, &QCheckBox::toggled, this, [this] {
        updateCurveEnabled();
        emit changed();
    });
    connect(m_curve, &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {
        m_dragged = -1;
        double best = 14;
        for (auto it = m_curvePoints->data()->constBegin(); it != m_curvePoints->data()->constEnd(); ++it) {
            const double d = std::hypot(m_curve->xAxis->coordToPixel(it->key) - e->position().x(),
                                        m_curve->yAxis->coordToPixel(it->value) - e->position().y());
            if (d < best) best = d, m_dragged = static_cast<int>(it - m_curvePoints->data()->constBegin());
        }
    });
    connect(m_curve, &QCustomPlot::mouseMove, this, [this](QMouseEvent* e) {
        if (m_dragged < 0 || !(e->buttons() & Qt::LeftButton)) return;
        const double y = std::clamp(m_curve->yAxis->pixelToCoord(e->position().y()), 0.0, 2.0);
        std::vector<double> curve = lambdaBlocks();
        if (curve.empty()) return;
        curve[static_cast<std::size_t>(m_dragged)] = std::round(y * 100.0) / 100.0;
        m_curveUntouched = false;
        setLambdaBlocks(curve);
        emit changed();
    });
    connect(m_curve, &QCustomPlot::mouseRelease, this, [this] { m_dragged = -1; });

    auto* box = new QGroupBox(tr("Per-task weights"), this);
    m_weightsHost = box;
    m_weights = new QFormLayout(box);
    layout->addWidget(box);
    layout->addStretch();
    connect(m_method, &QComboBox::currentTextChanged, this, [this] {
        rebuildControls();
        emit changed();
    });
    setMethod(QStringLiteral("task_arithmetic"));
    rebuildControls();
}

void StrategyPanel::setTasks(const QStringList& tasks) {
    while (m_weights->rowCount() > 0) m_weights->removeRow(0);
    m_weightSliders.clear();
    for (int t = 0; t < tasks.size(); ++t) {
        auto* slider = new QSlider(Qt::Horizontal, m_weightsHost);
        slider->setRange(0, 200);
        slider->setValue(100);
        slider->setObjectName(QStringLiteral("weight_") + tasks[t]);
        slider->setProperty("task", tasks[t]);
        slider->setToolTip(tr("weight w_t of %1's task vector (0–2)").arg(tasks[t]));
        auto* label = new QLabel(QStringLiteral("%1  1.00").arg(tasks[t]), m_weightsHost);
        label->setStyleSheet(QStringLiteral("color: %1; font-weight: bold").arg(taskColor(t).name()));
        label->setMinimumWidth(140);
        connect(slider, &QSlider::valueChanged, this, [this, label, name = tasks[t]](int v) {
            label->setText(QStringLiteral("%1  %2").arg(name).arg(v / 100.0, 0, 'f', 2));
            emit changed();
        });
        m_weights->addRow(label, slider);
        m_weightSliders.push_back(slider);
    }
}

QString StrategyPanel::method() const { return m_method->currentText(); }

void StrategyPanel::setMethod(const QString& name) {
    const int i = m_method->findText(name);
    if (i >= 0) m_method->setCurrentIndex(i);
}

void StrategyPanel::rebuildControls() {
    while (m_form->rowCount() > 0) m_form->removeRow(0);
    m_controls.clear();
    const auto& info = core::merge::findMethod(m_method->currentText().toStdString()).info();
    m_summary->setText(QString::fromStdString(info.summary));
    bool usesWeight = false;
    for (const auto& p : info.params) {
        if (p.name == "weight") {
            usesWeight = true;
            continue;
        }
        QWidget* control = nullptr;
        if (p.kind == core::merge::ParamKind::Choice) {
            auto* c = new QComboBox(m_formHost);
            for (const auto& ch : p.choices) c->addItem(QString::fromStdString(ch));
            c->setCurrentText(QString::fromStdString(p.defaultChoice));
            connect(c, &QComboBox::currentTextChanged, this, &StrategyPanel::changed);
            control = c;
        } else {
            auto* s = new QDoubleSpinBox(m_formHost);
            const bool integer = p.kind == core::merge::ParamKind::Integer;
            s->setDecimals(integer ? 0 : (p.min > 0 && p.min < 1e-3) || (p.defaultNumber > 0 && p.defaultNumber < 1e-2) ? 6 : 3);
            s->setRange(p.min, p.max);
            s->setSingleStep(integer ? 1.0 : (p.max - p.min) > 5 ? 0.1 : 0.05);
            s->setValue(p.defaultNumber);
            connect(s, &QDoubleSpinBox::valueChanged, this, &StrategyPanel::changed);
            if (p.name == "lambda") connect(s, &QDoubleSpinBox::valueChanged, this, [this] { restCurveAtLambda(); });
            control = s;
        }
        control->setObjectName(QStringLiteral("param_") + QString::fromStdString(p.name));
        control->setToolTip(QString::fromStdString(p.help) + (p.affectsPrepare ? tr("\n(changing it redoes the preparation)") : QString()));
        m_form->addRow(QString::fromStdString(p.name), control);
        m_controls[p.name] = control;
    }
    m_weightsHost->setEnabled(usesWeight);
    m_curveHost->setVisible(info.has("lambda"));
    restCurveAtLambda();
    updateCurveEnabled();
    m_weightsHost->setToolTip(usesWeight ? QString() : tr("%1 takes no per-task weights").arg(m_method->currentText()));
}

core::merge::MergeSpec StrategyPanel::settings() const {
    core::merge::MergeSpec spec;
    spec.method = m_method->currentText().toStdString();
    for (const auto& [name, w] : m_controls) {
        if (auto* s = qobject_cast<QDoubleSpinBox*>(w)) spec.params[name] = s->value();
        else if (auto* c = qobject_cast<QComboBox*>(w)) spec.params[name] = c->currentText().toStdString();
    }
    for (std::size_t i = 0; i < m_weightSliders.size(); ++i) {
        core::merge::ModelRef m;
        m.task = m_weightSliders[i]->property("task").toString().toStdString();
        if (m_weightsHost->isEnabled()) m.params["weight"] = m_weightSliders[i]->value() / 100.0;
        spec.models.push_back(std::move(m));
    }
    spec.lambda.blockCurve = lambdaBlocks();
    return spec;
}

void StrategyPanel::restCurveAtLambda() {
    // An unused, unedited curve rests at the global λ, so switching it on changes nothing.
    if (m_curveOn->isChecked() || !m_curveUntouched || !hasParam(QStringLiteral("lambda"))) return;
    QVector<double> x, y;
    for (auto it = m_curvePoints->data()->constBegin(); it != m_curvePoints->data()->constEnd(); ++it)
        x << it->key, y << param(QStringLiteral("lambda"));
    m_curvePoints->setData(x, y, true);
    m_curve->replot(QCustomPlot::rpQueuedReplot);
}

void StrategyPanel::updateCurveEnabled() {
    m_curve->setEnabled(m_curveOn->isChecked());
    m_curvePoints->setPen(QPen(m_curveOn->isChecked() ? QColor(0, 114, 178) : QColor(190, 190, 190), 2));
    m_curve->replot(QCustomPlot::rpQueuedReplot);
}

std::vector<double> StrategyPanel::lambdaBlocks() const {
    if (!m_curveOn->isChecked() || !m_curveHost->isVisibleTo(this)) return {};
    std::vector<double> out;
    for (auto it = m_curvePoints->data()->constBegin(); it != m_curvePoints->data()->constEnd(); ++it) out.push_back(it->value);
    return out;
}

void StrategyPanel::setLambdaBlocks(const std::vector<double>& curve) {
    m_curveUntouched = curve.empty();
    m_curveOn->setChecked(!curve.empty());
    if (!curve.empty()) {
        QVector<double> x, y;
        for (std::size_t i = 0; i < curve.size(); ++i) {
            x << (curve.size() == 1 ? 0.5 : static_cast<double>(i) / static_cast<double>(curve.size() - 1));
            y << curve[i];
        }
        m_curvePoints->setData(x, y, true);
    }
    updateCurveEnabled();
}

std::vector<double> StrategyPanel::taskWeights() const {
    std::vector<double> out;
    if (!m_weightsHost->isEnabled()) return out;
    for (auto* s : m_weightSliders) out.push_back(s->value() / 100.0);
    return out;
}

void StrategyPanel::setParam(const QString& name, double value) {
    const auto it = m_controls.find(name.toStdString());
    if (it == m_controls.end()) return;
    if (auto* s = qobject_cast<QDoubleSpinBox*>(it->second)) s->setValue(value);
}

void StrategyPanel::setChoice(const QString& name, const QString& value) {
    const auto it = m_controls.find(name.toStdString());
    if (it == m_controls.end()) return;
    if (auto* c = qobject_cast<QComboBox*>(it->second)) c->setCurrentText(value);
}

double StrategyPanel::param(const QString& name) const {
    const auto it = m_controls.find(name.toStdString());
    const auto* s = it == m_controls.end() ? nullptr : qobject_cast<const QDoubleSpinBox*>(it->second);
    return s ? s->value() : std::nan("");
}

bool StrategyPanel::hasParam(const QString& name) const { return m_controls.count(name.toStdString()) > 0; }

}  // namespace ms::ui
