// The workbench's main window. For now: the application frame, menus and the About dialog;
// the panels arrive with the workbench issue.
#pragma once

#include <QMainWindow>

namespace ms::ui {

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);

public slots:
    void showAbout();

private:
    void buildMenus();
};

}  // namespace ms::ui
