#include "ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QKeyEvent>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QActionGroup>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>

#include "core/io/cache_paths.h"
#include "core/kit/kit_file.h"
#include "ui/about_dialog.h"
#include "ui/new_kit_dialog.h"
#include "ui/panels/live_panel.h"
#include "ui/panels/models_panel.h"
#include "ui/panels/plots_panel.h"
#include "ui/panels/results_panel.h"
#include "ui/panels/strategy_panel.h"
#include "ui/panels/sweep_panel.h"
#include "ui/plots/plot_style.h"
#include "ui/workbench.h"

namespace ms::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setObjectName(QStringLiteral("MainWindow"));
    m_workbench = new Workbench(this);
    m_plots = new PlotsPanel(m_workbench, this);
    setCentralWidget(m_plots);
    m_strategy = new StrategyPanel(this);
    m_models = new ModelsPanel(m_workbench, this);
    m_live = new LivePanel(m_workbench, m_strategy, this);
    m_sweeps = new SweepPanel(m_workbench, m_strategy, this);
    m_results = new ResultsPanel(m_workbench, this);
    m_log = new LogPanel(this);
    buildDocks();
    buildMenus();

    m_status = new QLabel(tr("Ready"), this);
    m_progress = new QProgressBar(this);
    m_progress->setMaximumWidth(260);
    m_progress->setVisible(false);
    statusBar()->addWidget(m_status, 1);
    statusBar()->addPermanentWidget(m_progress);

    connect(m_workbench, &Workbench::message, m_log, &LogPanel::append);
    connect(m_workbench, &Workbench::message, this, [this](const QString& level, const QString& text) {
        m_status->setText(text);
        if (level == QStringLiteral("error")) statusBar()->setStyleSheet(QStringLiteral("color: #b01e1e"));
        else statusBar()->setStyleSheet({});
    });
    connect(m_workbench, &Workbench::busy, this, [this](const QString& what, qulonglong done, qulonglong total) {
        m_progress->setVisible(true);
        m_progress->setRange(0, total > 0 ? 1000 : 0);
        m_progress->setValue(total > 0 ? static_cast<int>(1000.0 * static_cast<double>(done) / static_cast<double>(total)) : 0);
        m_status->setText(what);
    });
    connect(m_workbench, &Workbench::idle, this, [this] {
        m_progress->setVisible(false);
        m_status->setText(tr("Ready"));
    });
    connect(m_workbench, &Workbench::kitLoaded, this, [this] {
        m_strategy->setTasks(m_workbench->taskNames());
        m_plots->setWelcomeVisible(false);
        m_workbench->analyzeInterference();
        updateTitle();
    });
    connect(m_workbench, &Workbench::experimentChanged, this, &MainWindow::updateTitle);
    connect(m_results, &ResultsPanel::pointSelected, m_plots, &PlotsPanel::highlight);
    connect(m_plots, &PlotsPanel::buildDemoRequested, m_workbench, &Workbench::buildDemoKit);
    connect(m_plots, &PlotsPanel::openKitRequested, this, &MainWindow::chooseKit);
    connect(m_models, &ModelsPanel::openKitRequested, this, &MainWindow::chooseKit);

    resize(1600, 1000);
    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
    updateTitle();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildDocks() {
    auto dock = [this](QWidget* w, const QString& title, const QString& name, Qt::DockWidgetArea area) {
        auto* d = new QDockWidget(title, this);
        d->setObjectName(name);
        d->setWidget(w);
        addDockWidget(area, d);
        return d;
    };
    QDockWidget* models = dock(m_models, tr("Models"), QStringLiteral("dockModels"), Qt::LeftDockWidgetArea);
    QDockWidget* strategy = dock(m_strategy, tr("Strategy"), QStringLiteral("dockStrategy"), Qt::LeftDockWidgetArea);
    QDockWidget* live = dock(m_live, tr("Live merge"), QStringLiteral("dockLive"), Qt::LeftDockWidgetArea);
    QDockWidget* sweeps = dock(m_sweeps, tr("Sweeps"), QStringLiteral("dockSweeps"), Qt::RightDockWidgetArea);
    QDockWidget* results = dock(m_results, tr("Results"), QStringLiteral("dockResults"), Qt::BottomDockWidgetArea);
    QDockWidget* log = dock(m_log, tr("Log"), QStringLiteral("dockLog"), Qt::BottomDockWidgetArea);
    // The left column (strategy, then the live merge with its dense previews) runs the window's
    // full height; the results table spans the plots and the sweeps panel below them.
    setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);
    tabifyDockWidget(models, strategy);
    strategy->raise();
    tabifyDockWidget(results, log);
    results->raise();
    resizeDocks({strategy, live}, {380, 560}, Qt::Vertical);
    resizeDocks({strategy, sweeps}, {400, 360}, Qt::Horizontal);
    resizeDocks({results}, {250}, Qt::Vertical);
    (void)sweeps;
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* neu = file->addAction(tr("&New experiment"), this, [this] {
        m_workbench->newExperiment();
    });
    neu->setShortcut(QKeySequence::New);
    QAction* open = file->addAction(tr("&Open experiment…"), this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open experiment"), {}, tr("Experiments (*.h5 *.hdf5);;All files (*)"));
        if (!path.isEmpty()) openExperimentFile(path);
    });
    open->setShortcut(QKeySequence::Open);
    m_recent = file->addMenu(tr("Open &recent"));
    rebuildRecentMenu();
    QAction* saveAs = file->addAction(tr("Save experiment &as…"), this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save experiment"), QStringLiteral("experiment.h5"), tr("Experiments (*.h5)"));
        QString error;
        if (path.isEmpty()) return;
        if (m_workbench->saveExperimentAs(path, &error)) addRecent(path), updateTitle();
        else emit m_workbench->message(QStringLiteral("error"), error);
    });
    saveAs->setShortcut(QKeySequence::SaveAs);
    file->addSeparator();
    QAction* exportPlot = file->addAction(tr("&Export plot…"), this, [this] { exportCurrentPlot(); });
    exportPlot->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    file->addAction(tr("Export results table as &CSV…"), this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export results"), QStringLiteral("results.csv"), tr("CSV (*.csv)"));
        QString error;
        if (!path.isEmpty() && !m_results->exportCsv(path, &error)) emit m_workbench->message(QStringLiteral("error"), error);
    });
    file->addSeparator();
    file->addAction(tr("New &kit…"), this, &MainWindow::newKit);
    file->addAction(tr("Open &kit…"), this, &MainWindow::chooseKit);
    file->addAction(tr("&Build the demo kit"), m_workbench, &Workbench::buildDemoKit);
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    QAction* present = view->addAction(tr("&Presentation mode"));
    present->setObjectName(QStringLiteral("actionPresentation"));
    present->setCheckable(true);
    present->setShortcut(QKeySequence(Qt::Key_F11));
    connect(present, &QAction::toggled, this, &MainWindow::setPresentationMode);
    view->addAction(tr("&Next plot"), this, &MainWindow::nextPlot)->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_PageDown));
    view->addAction(tr("&Previous plot"), this, &MainWindow::previousPlot)->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_PageUp));
    view->addSeparator();
    for (QDockWidget* d : findChildren<QDockWidget*>()) view->addAction(d->toggleViewAction());

    // Encoder precision: a preference kept across sessions (Workbench::setEncoderPrecision).
    QMenu* settingsMenu = menuBar()->addMenu(tr("&Settings"));
    QMenu* precision = settingsMenu->addMenu(tr("Encoder &precision"));
    precision->setObjectName(QStringLiteral("menuPrecision"));
    precision->setToolTipsVisible(true);
    auto* group = new QActionGroup(precision);
    const QString saved = QSettings().value(QStringLiteral("encoderPrecision"), QStringLiteral("kit")).toString();
    const std::pair<QString, QString> choices[] = {
        {QStringLiteral("kit"), tr("As the &kit says (fp32 unless it has precision:)")},
        {QStringLiteral("fp32"), tr("&fp32")},
        {QStringLiteral("bf16"), tr("&bf16 (bfloat16 forwards: faster on CPUs with AVX-512 BF16 and on GPUs)")},
        {QStringLiteral("auto"), tr("&auto (bf16 where it is faster here)")}};
    for (const auto& [key, label] : choices) {
        QAction* a = precision->addAction(label);
        a->setObjectName(QStringLiteral("actionPrecision_") + key);
        a->setCheckable(true);
        a->setChecked(key == saved);
        a->setData(key);
        a->setToolTip(tr("encoder forwards of the proxy, scores and features; merged weights on disk are never affected; reopens the kit"));
        group->addAction(a);
        connect(a, &QAction::triggered, this, [this, key, group] {
            if (m_workbench->setEncoderPrecision(key)) {
                QSettings().setValue(QStringLiteral("encoderPrecision"), key);
            } else {
                for (QAction* other : group->actions()) other->setChecked(other->data().toString() == m_workbench->encoderPrecision());
            }
        });
    }
    if (saved != QStringLiteral("kit")) m_workbench->setEncoderPrecision(saved, false);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* about = help->addAction(tr("&About MergeScope"), this, &MainWindow::showAbout);
    about->setObjectName(QStringLiteral("actionAbout"));
}

void MainWindow::updateTitle() {
    QString title = QStringLiteral("MergeScope %1").arg(QStringLiteral(MS_VERSION));
    const QString path = m_workbench->experimentPath();
    title += QStringLiteral(" — ") + (m_workbench->isAutosave() ? tr("untitled experiment (autosaved)") : QFileInfo(path).fileName());
    if (const auto* s = m_workbench->session()) title += QStringLiteral(" — ") + QFileInfo(QString::fromStdString(s->kitDir())).fileName();
    setWindowTitle(title);
}

void MainWindow::chooseKit() {
    // A kit file (kit: 1); the demo kit's is the kit.yaml in its folder.
    const QString file = QFileDialog::getOpenFileName(this, tr("Open kit"), QString(), tr("Kit files (*.yaml *.yml)"));
    if (!file.isEmpty()) m_workbench->openKit(file);
}

void MainWindow::newKit() {
    NewKitDialog dialog(this);
    if (dialog.exec() == QDialog::Accepted) m_workbench->openKit(dialog.kitFile());
}

void MainWindow::startWithoutKit() {
    const QString demo = QString::fromStdString(core::io::demoKitDir());
    // A demo kit of an earlier release (no kit file yet) goes through the welcome's build, which
    // reuses its models and writes the kit file.
    if (core::kit::isKitFile((demo + QStringLiteral("/kit.yaml")).toStdString())) {
        m_workbench->openKit(demo);
        return;
    }
    m_plots->setWelcomeVisible(true);
    emit m_workbench->message(QStringLiteral("info"), tr("no kit yet: build the demo kit or open one"));
}

bool MainWindow::openExperimentFile(const QString& path) {
    QString error;
    if (!m_workbench->openExperiment(path, &error)) {
        emit m_workbench->message(QStringLiteral("error"), tr("cannot open %1: %2").arg(path, error));
        return false;
    }
    addRecent(path);
    updateTitle();
    return true;
}

void MainWindow::addRecent(const QString& path) {
    QSettings settings;
    QStringList recent = settings.value(QStringLiteral("recentExperiments")).toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > 8) recent.removeLast();
    settings.setValue(QStringLiteral("recentExperiments"), recent);
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
    if (!m_recent) return;
    m_recent->clear();
    const QStringList recent = QSettings().value(QStringLiteral("recentExperiments")).toStringList();
    for (const QString& path : recent) m_recent->addAction(QFileInfo(path).fileName(), this, [this, path] { openExperimentFile(path); })->setToolTip(path);
    m_recent->setEnabled(!recent.isEmpty());
}

void MainWindow::showAbout() {
    AboutDialog dialog(this);
    dialog.exec();
}

bool MainWindow::exportCurrentPlot(const QString& given) {
    QString path = given;
    if (path.isEmpty())
        path = QFileDialog::getSaveFileName(this, tr("Export plot"), QStringLiteral("plot.png"), tr("PNG (*.png);;SVG (*.svg);;PDF (*.pdf)"));
    if (path.isEmpty()) return false;
    QString error;
    if (!exportPlot(m_plots->currentPlot(), path, &error)) {
        emit m_workbench->message(QStringLiteral("error"), error);
        return false;
    }
    emit m_workbench->message(QStringLiteral("info"), tr("plot exported to %1").arg(path));
    return true;
}

void MainWindow::setPresentationMode(bool on) {
    if (on == m_presentation) return;
    m_presentation = on;
    if (on) {
        m_stateBeforePresentation = saveState();
        for (QDockWidget* d : findChildren<QDockWidget*>()) d->hide();
        menuBar()->hide();
        statusBar()->hide();
    } else {
        restoreState(m_stateBeforePresentation);
        menuBar()->show();
        statusBar()->show();
    }
    m_plots->setPresentation(on);
    if (auto* a = findChild<QAction*>(QStringLiteral("actionPresentation"))) a->setChecked(on);
}

void MainWindow::nextPlot() {
    QTabWidget* t = m_plots->tabs();
    t->setCurrentIndex((t->currentIndex() + 1) % t->count());
}

void MainWindow::previousPlot() {
    QTabWidget* t = m_plots->tabs();
    t->setCurrentIndex((t->currentIndex() + t->count() - 1) % t->count());
}

void MainWindow::keyPressEvent(QKeyEvent* event) {
    if (m_presentation) {
        switch (event->key()) {
            case Qt::Key_Right:
            case Qt::Key_PageDown:
            case Qt::Key_Space: nextPlot(); return;
            case Qt::Key_Left:
            case Qt::Key_PageUp:
            case Qt::Key_Backspace: previousPlot(); return;
            case Qt::Key_Escape:
            case Qt::Key_F11: setPresentationMode(false); return;
            default: break;
        }
    }
    QMainWindow::keyPressEvent(event);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (m_presentation) setPresentationMode(false);
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    m_workbench->cancelSweeps();
    QMainWindow::closeEvent(event);
}

}  // namespace ms::ui
