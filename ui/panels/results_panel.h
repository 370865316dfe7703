// The Results panel: every point of every sweep, sortable and filterable; selecting a row
// highlights the point in every plot; "Save merged model…" writes the selected point's merged
// encoder; "Export CSV…" writes the table.
#pragma once

#include <QSet>
#include <QString>
#include <QWidget>

class QTableView;
class QLineEdit;
class QSortFilterProxyModel;
class QPlainTextEdit;

namespace ms::ui {

class Workbench;
class ResultsModel;

class ResultsPanel : public QWidget {
    Q_OBJECT
public:
    explicit ResultsPanel(Workbench* workbench, QWidget* parent = nullptr);
    ResultsModel* model() const { return m_model; }
    QTableView* view() const { return m_view; }
    bool exportCsv(const QString& path, QString* error) const;
    void selectPoint(int sweep, int point);

signals:
    void pointSelected(int sweep, int point);

private:
    void saveSelectedModel();
    Workbench* m_workbench;
    ResultsModel* m_model;
    QSortFilterProxyModel* m_proxy;
    QTableView* m_view;
    QLineEdit* m_filter;
    QSet<QString> m_shown;  // on-demand columns the user asked for (by title)
};

class LogPanel : public QWidget {
    Q_OBJECT
public:
    explicit LogPanel(QWidget* parent = nullptr);
public slots:
    void append(const QString& level, const QString& text);

private:
    QPlainTextEdit* m_text;
};

}  // namespace ms::ui
