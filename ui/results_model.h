// Every point of every sweep of the experiment as one table: sweep, method, the swept
// parameters (union over sweeps), primary proxy (mean over tasks), mean normalized downstream,
// ΔMTL (where recorded), downstream per task, every metric of every task (shown on demand: the
// view hides them until asked, isOnDemand), seconds. Qt::UserRole gives raw numbers (for sorting), PointRole the
// (sweep, point) pair. New points of a running sweep are appended as rows, not a reset.
#pragma once

#include <QAbstractTableModel>
#include <QStringList>
#include <utility>
#include <vector>

#include "core/store/experiment.h"

namespace ms::ui {

class ResultsModel : public QAbstractTableModel {
    Q_OBJECT
public:
    static constexpr int PointRole = Qt::UserRole + 1;  // QPoint(sweep index, point index)

    explicit ResultsModel(QObject* parent = nullptr);
    void setExperiment(const core::store::Experiment& experiment);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Row of a point (-1 if absent).
    int rowOf(int sweep, int point) const;
    std::pair<int, int> pointAt(int row) const;
    // The table as CSV (header + rows, as shown, full precision for numbers).
    QString toCsv() const;
    // Columns a view shows only when asked (every metric of every task).
    bool isOnDemand(int column) const;

private:
    enum class Kind { Sweep, Point, Method, Param, Proxy, Downstream, DeltaMtl, Task, Metric, Seconds };
    struct Column {
        Kind kind;
        QString title;
        std::string key;  // parameter or task name
        std::string metric = {};  // Kind::Metric: the metric's name
    };
    std::vector<Column> columnsFor(const core::store::Experiment& e) const;
    double number(int row, const Column& c) const;
    QString text(int row, const Column& c) const;

    core::store::Experiment m_experiment;
    std::vector<Column> m_columns;
    std::vector<std::pair<int, int>> m_rows;
    std::vector<std::vector<int>> m_numbers;  // per sweep, per point: its number (from 1, plan order)
};

}  // namespace ms::ui
