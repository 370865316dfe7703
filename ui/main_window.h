// The workbench's main window: dockable panels (Models, Strategy, Live merge, Sweeps, Results,
// Log) around the plots; File (experiments, recent files, export, kits), View (presentation
// mode, panels), Help. Window layout and recent files are restored between runs.
#pragma once

#include <QMainWindow>

class QLabel;
class QProgressBar;
class QMenu;

namespace ms::ui {

class Workbench;
class ModelsPanel;
class StrategyPanel;
class LivePanel;
class SweepPanel;
class PlotsPanel;
class ResultsPanel;
class LogPanel;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    Workbench* workbench() const { return m_workbench; }
    PlotsPanel* plots() const { return m_plots; }
    SweepPanel* sweeps() const { return m_sweeps; }
    ResultsPanel* results() const { return m_results; }
    LivePanel* live() const { return m_live; }
    StrategyPanel* strategy() const { return m_strategy; }
    bool presentationMode() const { return m_presentation; }

    // First start: open the cached demo kit if there is one, else show the welcome page.
    void startWithoutKit();
    bool openExperimentFile(const QString& path);

public slots:
    void showAbout();
    void setPresentationMode(bool on);
    void nextPlot();
    void previousPlot();
    bool exportCurrentPlot(const QString& path = {});

protected:
    void closeEvent(QCloseEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;

private:
    void buildMenus();
    void buildDocks();
    void updateTitle();
    void addRecent(const QString& path);
    void rebuildRecentMenu();
    void chooseKit();
    void newKit();

    Workbench* m_workbench;
    PlotsPanel* m_plots;
    ModelsPanel* m_models;
    StrategyPanel* m_strategy;
    LivePanel* m_live;
    SweepPanel* m_sweeps;
    ResultsPanel* m_results;
    LogPanel* m_log;
    QLabel* m_status;
    QProgressBar* m_progress;
    QMenu* m_recent = nullptr;
    bool m_presentation = false;
    QByteArray m_stateBeforePresentation;
};

}  // namespace ms::ui
