// The main window and About dialog under QT_QPA_PLATFORM=offscreen, with a screenshot.
#include <QAction>
#include <QDir>
#include <QImage>
#include <QLabel>
#include <QtTest/QtTest>

#include "ui/about_dialog.h"
#include "ui/main_window.h"
#include "ui/screenshot.h"

class MainWindowTest : public QObject {
    Q_OBJECT
private slots:
    void titleNamesTheAppAndVersion() {
        ms::ui::MainWindow w;
        QVERIFY(w.windowTitle().contains(QStringLiteral("MergeScope")));
        QVERIFY(w.windowTitle().contains(QStringLiteral(MS_VERSION)));
    }
    void aboutStatesTheLicence() {
        const QString text = ms::ui::AboutDialog::aboutText();
        QVERIFY(text.contains(QStringLiteral("GPL-3.0-or-later")));
        QVERIFY(text.contains(QStringLiteral(MS_VERSION)));
        ms::ui::MainWindow w;
        QVERIFY(w.findChild<QAction*>(QStringLiteral("actionAbout")) != nullptr);
    }
    void screenshotIsWrittenAtTheRequestedSize() {
        QDir().mkpath(QStringLiteral(MS_SCREENSHOT_DIR));
        const QString path = QStringLiteral(MS_SCREENSHOT_DIR "/main_window.png");
        ms::ui::MainWindow w;
        QString error;
        QVERIFY2(ms::ui::saveScreenshot(w, path, 1600, 1000, &error), qPrintable(error));
        const QImage img(path);
        QCOMPARE(img.size(), QSize(1600, 1000));
        QVERIFY(!ms::ui::saveScreenshot(w, QStringLiteral("/nonexistent/x.png"), 10, 10, &error));
        QVERIFY(error.contains(QStringLiteral("/nonexistent/x.png")));
    }
};

QTEST_MAIN(MainWindowTest)
#include "main_window_test.moc"
