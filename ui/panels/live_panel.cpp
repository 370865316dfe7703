#include "ui/panels/live_panel.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QBitmap>
#include <QPainter>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSlider>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "core/merge/method_registry.h"
#include "ui/panels/strategy_panel.h"
#include "ui/task_colors.h"
#include "ui/workbench.h"

namespace ms::ui {

DensePreviews::DensePreviews(QWidget* parent) : QWidget(parent) {
    setToolTip(tr("each dense task on its first eval image: the truth (left) and the live merge's prediction with the task's own "
                  "head (right); hatched: unlabelled or invalid pixels, which no metric counts"));
}

namespace {
constexpr int kSide = 60, kLabelH = 16, kGap = 8;
constexpr int kCellW = 2 * kSide + 3 * kGap;  // truth | merged, then a gap to the next task
constexpr int kCellH = kLabelH + kSide + kGap;

// One map as an image: classes in the palette, values in grey over [lo, hi], normals as RGB of
// (n + 1)/2; unusable pixels (unlabelled, invalid, not a number) light grey.
QImage mapImage(const core::session::DensePreview& d, const std::vector<float>& v, float lo, float hi) {
    QImage img(d.width, d.height, QImage::Format_RGB32);
    for (int y = 0; y < d.height; ++y)
        for (int x = 0; x < d.width; ++x) {
            const std::size_t i = static_cast<std::size_t>(y) * static_cast<std::size_t>(d.width) + static_cast<std::size_t>(x);
            const float* px = v.data() + i * static_cast<std::size_t>(d.channels);
            QColor c(235, 235, 235);
            bool bad = false;
            for (int k = 0; k < d.channels; ++k) bad = bad || !std::isfinite(px[k]);
            if (d.type == "segmentation") {
                if (!bad && px[0] >= 0) c = taskColor(static_cast<int>(px[0]));
            } else if (d.type == "normals" && !bad) {
                const auto channel = [&](int k) { return static_cast<int>(std::lround(std::clamp((px[k] + 1.0f) * 0.5f, 0.0f, 1.0f) * 255.0f)); };
                c = QColor(channel(0), channel(1), channel(2));
            } else if (!bad) {
                const float t = hi > lo ? std::clamp((px[0] - lo) / (hi - lo), 0.0f, 1.0f) : 0.5f;
                const int g = static_cast<int>(std::lround(t * 255.0f));
                c = QColor(g, g, g);
            }
            img.setPixelColor(x, y, c);
        }
    return img;
}

// The truth's unusable pixels as a one-bit mask (1 where hatched).
QImage invalidMask(const core::session::DensePreview& d) {
    QImage mask(d.width, d.height, QImage::Format_MonoLSB);
    mask.setColorTable({qRgb(255, 255, 255), qRgb(0, 0, 0)});  // index 1: a set bit of a QBitmap
    mask.fill(0);
    for (int y = 0; y < d.height; ++y)
        for (int x = 0; x < d.width; ++x) {
            const float* px = d.truth.data() + (static_cast<std::size_t>(y) * static_cast<std::size_t>(d.width) + static_cast<std::size_t>(x)) *
                                                   static_cast<std::size_t>(d.channels);
            bool bad = d.type == "segmentation" && px[0] < 0;
            for (int k = 0; k < d.channels; ++k) bad = bad || !std::isfinite(px[k]);
            if (bad) mask.setPixel(x, y, 1);
        }
    return mask;
}
}  // namespace

void DensePreviews::setPreviews(std::vector<core::session::DensePreview> previews) {
    m_previews = std::move(previews);
    // The images once per update; painting only scales them.
    m_images.clear();
    for (const auto& d : m_previews) {
        Images im;
        if (d.width > 0 && d.height > 0) {
            // Values share the truth's range, so prediction and truth read on one scale.
            float lo = INFINITY, hi = -INFINITY;
            for (float v : d.truth)
                if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
            im.truth = mapImage(d, d.truth, lo, hi);
            im.merged = mapImage(d, d.prediction, lo, hi);
            im.invalid = invalidMask(d);
        }
        m_images.push_back(std::move(im));
    }
    updateGeometry();
    update();
}

QSize DensePreviews::sizeHint() const { return {kCellW * 2, heightForWidth(kCellW * 2)}; }

int DensePreviews::heightForWidth(int width) const {
    if (m_previews.empty()) return 0;
    const int perRow = std::max(1, width / kCellW);
    return static_cast<int>((m_previews.size() + static_cast<std::size_t>(perRow) - 1) / static_cast<std::size_t>(perRow)) * kCellH;
}

void DensePreviews::paintEvent(QPaintEvent*) {
    QPainter p(this);
    const int perRow = std::max(1, width() / kCellW);
    for (std::size_t n = 0; n < m_previews.size(); ++n) {
        const auto& d = m_previews[n];
        const Images& im = m_images[n];
        if (im.truth.isNull()) continue;
        const int left = static_cast<int>(n % static_cast<std::size_t>(perRow)) * kCellW;
        const int top = static_cast<int>(n / static_cast<std::size_t>(perRow)) * kCellH;
        const double scale = std::min(static_cast<double>(kSide) / d.width, static_cast<double>(kSide) / d.height);
        const QSize size(static_cast<int>(d.width * scale), static_cast<int>(d.height * scale));
        p.setPen(taskColor(d.taskIndex).darker(110));
        p.drawText(QRect(left, top, kCellW - kGap, kLabelH), Qt::AlignLeft | Qt::AlignVCenter,
                   p.fontMetrics().elidedText(QString::fromStdString(d.task), Qt::ElideRight, kCellW - kGap));
        // The truth's unusable pixels hatched on both (no metric counts them): the scaled mask as
        // a clip region (made from its bitmap's runs, not pixel by pixel).
        const QRegion invalid(QBitmap::fromImage(im.invalid.scaled(size, Qt::IgnoreAspectRatio, Qt::FastTransformation)));
        int x = left;
        for (const QImage* img : {&im.truth, &im.merged}) {
            const QRect target(x, top + kLabelH, size.width(), size.height());
            p.drawImage(target, *img);
            if (!invalid.isEmpty()) {
                p.save();
                p.setClipRegion(invalid.translated(target.topLeft()));
                p.fillRect(target, QColor(250, 250, 250));
                p.fillRect(target, QBrush(QColor(120, 120, 120), Qt::BDiagPattern));
                p.restore();
            }
            p.setPen(QColor(160, 160, 160));
            p.drawRect(target.adjusted(0, 0, -1, -1));
            x += size.width() + kGap;
        }
    }
}

AlignmentBars::AlignmentBars(QWidget* parent) : QWidget(parent) { setMinimumHeight(60); }

void AlignmentBars::setValues(const QStringList& tasks, const QVector<double>& values, const QVector<double>& errors) {
    m_tasks = tasks;
    m_values = values;
    m_errors = errors;
    setMinimumHeight(std::max(60, sizeHint().height()));  // every task's bar stays visible
    updateGeometry();
    update();
}

QSize AlignmentBars::sizeHint() const { return {320, 22 * static_cast<int>(std::max<qsizetype>(3, m_tasks.size())) + 8}; }

void AlignmentBars::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const int rowH = 22, nameW = 110, valueW = 56;
    const int barX = nameW + 6, barW = std::max(40, width() - nameW - valueW - 16);
    const double lo = -1.0, hi = 1.0;  // Â: 1 = as the expert, 0 = as the base
    auto xOf = [&](double v) { return barX + (std::clamp(v, lo, hi) - lo) / (hi - lo) * barW; };
    p.setPen(QColor(200, 200, 200));
    for (double tick : {-1.0, 0.0, 1.0}) p.drawLine(QPointF(xOf(tick), 2), QPointF(xOf(tick), rowH * m_tasks.size() + 2));
    for (int t = 0; t < m_tasks.size(); ++t) {
        const int y = t * rowH + 4;
        p.setPen(taskColor(t));
        QFont f = font();
        f.setBold(true);
        p.setFont(f);
        p.drawText(QRect(0, y, nameW, rowH - 4), Qt::AlignRight | Qt::AlignVCenter, m_tasks[t]);
        if (t >= m_values.size() || !std::isfinite(m_values[t])) continue;
        const double v = m_values[t];
        const double x0 = xOf(0), x1 = xOf(v);
        const bool estimate = t < m_errors.size();
        QColor fill = taskColor(t);
        if (estimate) fill.setAlpha(140);  // an estimate is drawn lighter, with its ±2 SE whisker
        p.setPen(Qt::NoPen);
        p.setBrush(fill);
        p.drawRoundedRect(QRectF(std::min(x0, x1), y + 3, std::abs(x1 - x0) + 1, rowH - 10), 2, 2);
        if (estimate && std::isfinite(m_errors[t]) && m_errors[t] > 0) {
            const double lo = xOf(v - 2 * m_errors[t]), hi = xOf(v + 2 * m_errors[t]), mid = y + (rowH - 4) / 2.0;
            p.setPen(QPen(palette().color(QPalette::WindowText), 1.2));
            p.drawLine(QPointF(lo, mid), QPointF(hi, mid));
            p.drawLine(QPointF(lo, mid - 4), QPointF(lo, mid + 4));
            p.drawLine(QPointF(hi, mid - 4), QPointF(hi, mid + 4));
        }
        p.setPen(palette().color(estimate ? QPalette::PlaceholderText : QPalette::WindowText));
        p.setFont(font());
        p.drawText(QRect(barX + barW + 6, y, valueW, rowH - 4), Qt::AlignLeft | Qt::AlignVCenter,
                   (estimate ? QStringLiteral("≈") : QString()) + QString::number(v, 'f', 3));
    }
}

LivePanel::LivePanel(Workbench* workbench, StrategyPanel* strategy, QWidget* parent)
    : QWidget(parent), m_workbench(workbench), m_strategy(strategy) {
    auto* layout = new QVBoxLayout(this);
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(QStringLiteral("λ"), this));
    m_slider = new QSlider(Qt::Horizontal, this);
    m_slider->setObjectName(QStringLiteral("lambdaSlider"));
    m_slider->setRange(0, 200);
    m_slider->setValue(30);
    m_slider->setToolTip(tr("the merge's λ: drag to re-merge and re-score the proxy live"));
    row->addWidget(m_slider, 1);
    m_lambda = new QLabel(QStringLiteral("0.30"), this);
    m_lambda->setMinimumWidth(36);
    row->addWidget(m_lambda);
    layout->addLayout(row);
    // Bars, read-out and dense previews scroll when the dock is short, never overlap.
    auto* scroll = new QScrollArea(this);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    auto* content = new QWidget(scroll);
    auto* inner = new QVBoxLayout(content);
    inner->setContentsMargins(0, 0, 0, 0);
    m_bars = new AlignmentBars(content);
    m_bars->setObjectName(QStringLiteral("alignmentBars"));
    inner->addWidget(m_bars);
    m_readout = new QLabel(tr("open a kit to see the proxy live"), content);
    m_readout->setObjectName(QStringLiteral("liveReadout"));
    m_readout->setWordWrap(true);
    inner->addWidget(m_readout);
    m_dense = new DensePreviews(content);
    m_dense->setObjectName(QStringLiteral("densePreviews"));
    inner->addWidget(m_dense);
    inner->addStretch();
    scroll->setWidget(content);
    layout->addWidget(scroll, 1);

    // The slider is a second handle on the Strategy panel's λ, never a value of its own.
    connect(m_slider, &QSlider::valueChanged, this, [this](int v) {
        m_lambda->setText(QString::number(v / 100.0, 'f', 2));
        if (m_strategy->hasParam(QStringLiteral("lambda"))) m_strategy->setParam(QStringLiteral("lambda"), v / 100.0);
        else request();
    });
    connect(m_strategy, &StrategyPanel::changed, this, [this] {
        followStrategy();
        request();
    });
    connect(m_workbench, &Workbench::livePreview, m_dense, &DensePreviews::setPreviews);
    connect(m_workbench, &Workbench::kitLoaded, this, [this] {
        m_dense->setPreviews({});
        m_bars->setValues(m_workbench->taskNames(), {});
        request();
    });
    followStrategy();
    connect(m_workbench, &Workbench::liveEstimate, this,
            [this](const QVector<double>& perTask, const QVector<double>& errors, double mean, double meanError, int images, int total,
                   double seconds) {
                ++m_estimates;
                m_bars->setValues(m_workbench->taskNames(), perTask, errors);
                m_readout->setText(tr("task alignment Â ≈ mean <b>%1</b> ± %2 from the first %3 of %4 probe images per data set "
                                      "(%5 s) — refining…")
                                       .arg(mean, 0, 'f', 3)
                                       .arg(std::isfinite(meanError) ? QString::number(meanError, 'f', 3) : QStringLiteral("?"))
                                       .arg(images)
                                       .arg(total)
                                       .arg(seconds, 0, 'f', 1));
            });
    connect(m_workbench, &Workbench::liveResult, this,
            [this](const QVector<double>& perTask, double mean, double min, double seconds, double estimateSeconds) {
                ++m_updates;
                m_bars->setValues(m_workbench->taskNames(), perTask);
                QString text = tr("task alignment Â: mean <b>%1</b>, min %2 — %3 ms on %4 probe images per data set")
                                   .arg(mean, 0, 'f', 3)
                                   .arg(min, 0, 'f', 3)
                                   .arg(seconds * 1000.0, 0, 'f', 0)
                                   .arg(m_workbench->sessionOptions().liveProbeSize);
                if (estimateSeconds > 0) text += tr(" (first estimate at %1 s)").arg(estimateSeconds, 0, 'f', 1);
                m_readout->setText(text);
            });
}

void LivePanel::followStrategy() {
    const double lambda = m_strategy->param(QStringLiteral("lambda"));
    m_slider->setEnabled(std::isfinite(lambda));
    if (!std::isfinite(lambda)) {
        m_lambda->setText(QStringLiteral("–"));
        return;
    }
    const QSignalBlocker block(m_slider);
    m_slider->setValue(static_cast<int>(std::lround(std::clamp(lambda, 0.0, 2.0) * 100.0)));
    m_lambda->setText(QString::number(lambda, 'f', 2));
}

void LivePanel::request() {
    if (!m_workbench->hasKit()) return;
    if (core::merge::findMethod(m_strategy->method().toStdString()).info().needsKit) {
        m_bars->setValues(m_workbench->taskNames(), {});
        m_readout->setText(tr("%1 learns from the kit's data (a minute or two): queue it in the Sweeps panel; "
                              "its loss and what it learned appear in the Learned plot").arg(m_strategy->method()));
        return;
    }
    m_workbench->requestLive(m_strategy->settings());
}

}  // namespace ms::ui
