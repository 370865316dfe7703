// mergescope: the desktop workbench. Wiring only; the window lives in ui/.
#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>
#include <cstdio>

#include "ui/main_window.h"
#include "ui/screenshot.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("MergeScope"));
    QApplication::setOrganizationName(QStringLiteral("MergeScope"));
    QApplication::setApplicationVersion(QStringLiteral(MS_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("MergeScope workbench"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                        QStringLiteral("Render the window at 1600x1000 to OUT.png and exit."),
                                        QStringLiteral("OUT.png"));
    parser.addOption(screenshot);
    parser.process(app);

    ms::ui::MainWindow window;
    if (parser.isSet(screenshot)) {
        QString error;
        if (!ms::ui::saveScreenshot(window, parser.value(screenshot), 1600, 1000, &error)) {
            std::fprintf(stderr, "error: %s\n", qPrintable(error));
            return 1;
        }
        return 0;
    }
    window.show();
    return app.exec();
}
