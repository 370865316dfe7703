// mergescope: the desktop workbench. Wiring only; the window lives in ui/.
//   mergescope [--kit DIR] [--experiment FILE] [--screenshot OUT.png]
// With --screenshot the kit (and experiment) are loaded first, the window is laid out at
// 1600×1000, rendered to OUT.png, and the program exits (tests and docs use it).
#include <QApplication>
#include <QCommandLineParser>
#include <QEventLoop>
#include <QTimer>
#include <cstdio>

#include "core/errors.h"
#include "ui/main_window.h"
#include "ui/panels/plots_panel.h"
#include <QTabWidget>
#include "ui/screenshot.h"
#include "ui/workbench.h"

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("MergeScope"));
    QApplication::setOrganizationName(QStringLiteral("MergeScope"));
    QApplication::setApplicationVersion(QStringLiteral(MS_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("MergeScope workbench: merge fine-tuned vision encoders, choose merge "
                                                    "coefficients with a cheap proxy."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption kit(QStringLiteral("kit"), QStringLiteral("Open the kit in DIR (default: the demo kit, if built)."),
                                 QStringLiteral("DIR"));
    const QCommandLineOption experiment(QStringLiteral("experiment"), QStringLiteral("Open the experiment file FILE."),
                                        QStringLiteral("FILE"));
    const QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                        QStringLiteral("Load, render the window at 1600x1000 to OUT.png and exit."),
                                        QStringLiteral("OUT.png"));
    const QCommandLineOption view(QStringLiteral("view"),
                                  QStringLiteral("With --screenshot: the plot to show (sweep, scatter, heatmap, interference, spectra, relations, learned)."),
                                  QStringLiteral("NAME"));
    const QCommandLineOption sweep(QStringLiteral("sweep"), QStringLiteral("With --screenshot: the sweep to show (e.g. sweep-002)."),
                                   QStringLiteral("ID"));
    const QCommandLineOption presentation(QStringLiteral("presentation"), QStringLiteral("Start in presentation mode."));
    parser.addOptions({kit, experiment, screenshot, view, sweep, presentation});
    parser.process(app);

    ms::ui::MainWindow window;
    if (parser.isSet(screenshot)) {
        try {
            if (parser.isSet(kit)) window.workbench()->openKitNow(parser.value(kit));
        } catch (const ms::core::Error& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            return 2;
        }
        if (parser.isSet(experiment) && !window.openExperimentFile(parser.value(experiment))) {
            std::fprintf(stderr, "error: cannot open %s\n", qPrintable(parser.value(experiment)));
            return 2;
        }
        if (!parser.isSet(kit) && !parser.isSet(experiment)) window.startWithoutKit();
        if (window.workbench()->hasKit()) {
            // Let the first live preview and the interference analysis land (at most 60 s).
            QEventLoop loop;
            int pending = 2;
            auto done = [&] {
                if (--pending == 0) loop.quit();
            };
            QObject::connect(window.workbench(), &ms::ui::Workbench::liveResult, &loop, done);
            QObject::connect(window.workbench(), &ms::ui::Workbench::interferenceReady, &loop, done);
            QTimer::singleShot(60000, &loop, &QEventLoop::quit);
            loop.exec();
        }
        if (parser.isSet(sweep)) window.plots()->selectSweep(parser.value(sweep));
        if (parser.isSet(presentation)) window.setPresentationMode(true);
        if (parser.isSet(view)) {
            const QStringList views = {QStringLiteral("sweep"), QStringLiteral("scatter"), QStringLiteral("heatmap"),
                                       QStringLiteral("interference"), QStringLiteral("spectra"), QStringLiteral("relations"),
                                       QStringLiteral("learned")};
            const int i = views.indexOf(parser.value(view));
            if (i < 0) {
                std::fprintf(stderr, "error: --view must be one of %s\n", qPrintable(views.join(QStringLiteral(", "))));
                return 2;
            }
            window.plots()->tabs()->setCurrentIndex(i);
        }
        QString error;
        if (!ms::ui::saveScreenshot(window, parser.value(screenshot), 1600, 1000, &error)) {
            std::fprintf(stderr, "error: %s\n", qPrintable(error));
            return 1;
        }
        return 0;
    }
    if (parser.isSet(kit)) window.workbench()->openKit(parser.value(kit));
    if (parser.isSet(experiment)) window.openExperimentFile(parser.value(experiment));
    if (!parser.isSet(kit) && !parser.isSet(experiment)) window.startWithoutKit();
    if (parser.isSet(presentation)) window.setPresentationMode(true);
    window.show();
    return app.exec();
}
