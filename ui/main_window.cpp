#include "ui/main_window.h"

#include <QLabel>
#include <QMenuBar>
#include <QStatusBar>
#include <QVBoxLayout>

#include "ui/about_dialog.h"

namespace ms::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(QStringLiteral("MergeScope %1").arg(QStringLiteral(MS_VERSION)));
    setObjectName(QStringLiteral("MainWindow"));
    auto* welcome = new QLabel(
        tr("<h2>MergeScope %1</h2>"
           "<p>Merge fine-tuned vision encoders and choose merge hyperparameters with a cheap "
           "proxy.</p>"
           "<p>Checkpoints are read with <tt>mergescope-cli inspect</tt> today; the workbench "
           "panels are on their way.</p>")
            .arg(QStringLiteral(MS_VERSION)),
        this);
    welcome->setObjectName(QStringLiteral("WelcomeLabel"));
    welcome->setAlignment(Qt::AlignCenter);
    welcome->setWordWrap(true);
    welcome->setMargin(24);
    setCentralWidget(welcome);
    buildMenus();
    statusBar()->showMessage(tr("Ready"));
    resize(1200, 800);
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* about = help->addAction(tr("&About MergeScope"), this, &MainWindow::showAbout);
    about->setObjectName(QStringLiteral("actionAbout"));
}

void MainWindow::showAbout() {
    AboutDialog dialog(this);
    dialog.exec();
}

}  // namespace ms::ui
