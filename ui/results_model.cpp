#include "ui/results_model.h"

#include <QPoint>
#include <algorithm>
#include <cmath>

#include "core/store/sweep_points.h"
#include "core/errors.h"
#include "core/sweep/sweep_point.h"

namespace ms::ui {

using core::store::PointRecord;
using core::store::SweepRecord;

ResultsModel::ResultsModel(QObject* parent) : QAbstractTableModel(parent) {}

std::vector<ResultsModel::Column> ResultsModel::columnsFor(const core::store::Experiment& e) const {
    std::vector<Column> cols = {{Kind::Sweep, tr("sweep"), ""}, {Kind::Point, QStringLiteral("#"), ""}, {Kind::Method, tr("method"), ""}};
    std::vector<std::string> params, tasks;
    std::vector<std::pair<std::string, std::string>> metrics;  // (task, metric) any point recorded
    bool deltas = false;
    for (const auto& s : e.sweeps) {
        deltas = deltas || !s.metricNames.empty();
        for (std::size_t t = 0; t < s.tasks.size(); ++t)
            for (const auto& m : s.metricNames) {
                bool any = false;
                for (const auto& p : s.points)
                    if (auto it = p.metrics.find(m); it != p.metrics.end() && t < it->second.size() && std::isfinite(it->second[t])) any = true;
                if (any && std::find(metrics.begin(), metrics.end(), std::make_pair(s.tasks[t], m)) == metrics.end())
                    metrics.emplace_back(s.tasks[t], m);
            }
        for (const auto& p : s.paramNames)
            if (std::find(params.begin(), params.end(), p) == params.end()) params.push_back(p);
        for (const auto& t : s.tasks)
            if (std::find(tasks.begin(), tasks.end(), t) == tasks.end()) tasks.push_back(t);
    }
    for (const auto& p : params) cols.push_back({Kind::Param, QString::fromStdString(p), p});
    cols.push_back({Kind::Proxy, tr("proxy"), ""});
    cols.push_back({Kind::Downstream, tr("downstream"), ""});
    if (deltas) cols.push_back({Kind::DeltaMtl, QStringLiteral("ΔMTL %"), ""});
    for (const auto& t : tasks) cols.push_back({Kind::Task, QString::fromStdString(t), t});
    for (const auto& [t, m] : metrics) cols.push_back({Kind::Metric, QString::fromStdString(t + ": " + m), t, m});
    cols.push_back({Kind::Seconds, tr("seconds"), ""});
    return cols;
}

namespace {
// Each point's number, as `report` prints it and `merge --experiment --point` takes it.
std::vector<std::vector<int>> pointNumbersOf(const core::store::Experiment& e) {
    std::vector<std::vector<int>> out;
    for (const auto& s : e.sweeps) {
        try {
            out.push_back(core::store::pointNumbers(s));
        } catch (const core::Error&) {  // a spec this build cannot plan: number them as stored
            std::vector<int> n(s.points.size());
            for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<int>(i) + 1;
            out.push_back(std::move(n));
        }
    }
    return out;
}
}  // namespace

void ResultsModel::setExperiment(const core::store::Experiment& e) {
    std::vector<std::vector<int>> numbers = pointNumbersOf(e);
    std::vector<std::pair<int, int>> rows;
    for (std::size_t s = 0; s < e.sweeps.size(); ++s)
        for (std::size_t p = 0; p < e.sweeps[s].points.size(); ++p) rows.emplace_back(static_cast<int>(s), static_cast<int>(p));
    const auto cols = columnsFor(e);
    bool sameColumns = cols.size() == m_columns.size();
    for (std::size_t i = 0; sameColumns && i < cols.size(); ++i) sameColumns = cols[i].title == m_columns[i].title;
    const bool appended = sameColumns && rows.size() >= m_rows.size() && std::equal(m_rows.begin(), m_rows.end(), rows.begin());
    if (appended && rows.size() > m_rows.size()) {
        beginInsertRows({}, static_cast<int>(m_rows.size()), static_cast<int>(rows.size()) - 1);
        m_experiment = e;
        m_numbers = std::move(numbers);
        m_rows = std::move(rows);
        endInsertRows();
    } else if (appended) {
        m_experiment = e;  // same rows: refresh values (a status change)
        m_numbers = std::move(numbers);
        if (!m_rows.empty()) emit dataChanged(index(0, 0), index(rowCount() - 1, columnCount() - 1));
    } else {
        beginResetModel();
        m_experiment = e;
        m_numbers = std::move(numbers);
        m_columns = cols;
        m_rows = std::move(rows);
        endResetModel();
    }
}

int ResultsModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(m_rows.size()); }
int ResultsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(m_columns.size()); }

int ResultsModel::rowOf(int sweep, int point) const {
    const auto it = std::find(m_rows.begin(), m_rows.end(), std::make_pair(sweep, point));
    return it == m_rows.end() ? -1 : static_cast<int>(it - m_rows.begin());
}

std::pair<int, int> ResultsModel::pointAt(int row) const {
    return row >= 0 && row < rowCount() ? m_rows[static_cast<std::size_t>(row)] : std::make_pair(-1, -1);
}

double ResultsModel::number(int row, const Column& c) const {
    const auto [si, pi] = m_rows[static_cast<std::size_t>(row)];
    const SweepRecord& s = m_experiment.sweeps[static_cast<std::size_t>(si)];
    const PointRecord& p = s.points[static_cast<std::size_t>(pi)];
    switch (c.kind) {
        case Kind::Point: return m_numbers[static_cast<std::size_t>(si)][static_cast<std::size_t>(pi)];
        case Kind::Param: {
            const auto it = std::find(s.paramNames.begin(), s.paramNames.end(), c.key);
            return it == s.paramNames.end() ? NAN : p.params[static_cast<std::size_t>(it - s.paramNames.begin())];
        }
        case Kind::Proxy: return s.proxies().empty() ? NAN : p.proxyMean(s.proxies().front());
        case Kind::Downstream: return p.downstreamMean();
        case Kind::DeltaMtl: return 100.0 * p.deltaMtl();
        case Kind::Metric: {
            const auto it = std::find(s.tasks.begin(), s.tasks.end(), c.key);
            const auto m = p.metrics.find(c.metric);
            const auto t = static_cast<std::size_t>(it - s.tasks.begin());
            return it == s.tasks.end() || m == p.metrics.end() || t >= m->second.size() ? NAN : m->second[t];
        }
        case Kind::Task: {
            const auto it = std::find(s.tasks.begin(), s.tasks.end(), c.key);
            return it == s.tasks.end() || !p.hasDownstream() ? NAN : p.normalized[static_cast<std::size_t>(it - s.tasks.begin())];
        }
        case Kind::Seconds: return p.mergeSeconds + p.proxySeconds + p.downstreamSeconds;
        default: return NAN;
    }
}

QString ResultsModel::text(int row, const Column& c) const {
    const auto [si, pi] = m_rows[static_cast<std::size_t>(row)];
    const SweepRecord& s = m_experiment.sweeps[static_cast<std::size_t>(si)];
    if (c.kind == Kind::Sweep) return QString::fromStdString(s.id);
    if (c.kind == Kind::Method) return QString::fromStdString(s.kind() == core::store::SweepKind::Relations ? "relations" : s.method());
    const double v = number(row, c);
    if (!std::isfinite(v)) return QString();
    if (c.kind == Kind::Param && s.kind() == core::store::SweepKind::Relations && c.key == "task")
        return QString::fromStdString(s.tasks[static_cast<std::size_t>(v)]);
    if (c.kind == Kind::Param) return QString::number(v, 'g', 4);
    if (c.kind == Kind::Point) return QString::number(static_cast<int>(v));
    if (c.kind == Kind::Seconds || c.kind == Kind::DeltaMtl) return QString::number(v, 'f', 2);
    return QString::number(v, 'f', 4);
}

QVariant ResultsModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= columnCount()) return {};
    const Column& c = m_columns[static_cast<std::size_t>(index.column())];
    switch (role) {
        case Qt::DisplayRole: return text(index.row(), c);
        case Qt::UserRole: {
            if (c.kind == Kind::Sweep || c.kind == Kind::Method) return text(index.row(), c);
            const double v = number(index.row(), c);
            return std::isfinite(v) ? QVariant(v) : QVariant(-INFINITY);  // missing values sort first
        }
        case Qt::TextAlignmentRole:
            return (c.kind == Kind::Sweep || c.kind == Kind::Method) ? QVariant(int(Qt::AlignLeft | Qt::AlignVCenter))
                                                                     : QVariant(int(Qt::AlignRight | Qt::AlignVCenter));
        case PointRole: {
            const auto [s, p] = m_rows[static_cast<std::size_t>(index.row())];
            return QPoint(s, p);
        }
        default: return {};
    }
}

QVariant ResultsModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || section < 0 || section >= columnCount()) return QAbstractTableModel::headerData(section, orientation, role);
    const Column& c = m_columns[static_cast<std::size_t>(section)];
    if (role == Qt::DisplayRole) return c.title;
    if (role == Qt::ToolTipRole) {
        switch (c.kind) {
            case Kind::Point: return tr("the point's number in its sweep, as `mergescope-cli report` prints it and `merge --experiment --point N` takes it");
            case Kind::Proxy: return tr("the sweep's primary proxy, mean over tasks of the normalised alignment");
            case Kind::Downstream: return tr("mean normalized performance over tasks (merged / expert; expert / merged for RMSE)");
            case Kind::Task: return tr("normalized performance of %1").arg(c.title);
            case Kind::DeltaMtl:
                return tr("ΔMTL (LibMTL): mean over tasks of the mean over each task's metrics of ±(merged − expert)/expert, in %");
            case Kind::Metric: return tr("%1 of %2 (raw)").arg(QString::fromStdString(c.metric), QString::fromStdString(c.key));
            case Kind::Seconds: return tr("merge + proxy + downstream seconds");
            default: return c.title;
        }
    }
    return {};
}

bool ResultsModel::isOnDemand(int column) const {
    return column >= 0 && column < columnCount() && m_columns[static_cast<std::size_t>(column)].kind == Kind::Metric;
}

QString ResultsModel::toCsv() const {
    QString out;
    for (std::size_t c = 0; c < m_columns.size(); ++c) out += (c ? "," : "") + m_columns[c].title;
    out += '\n';
    for (int r = 0; r < rowCount(); ++r) {
        for (std::size_t c = 0; c < m_columns.size(); ++c) {
            const Column& col = m_columns[c];
            QString cell;
            if (col.kind == Kind::Sweep || col.kind == Kind::Method || (col.kind == Kind::Param && col.key == "task")) cell = text(r, col);
            else {
                const double v = number(r, col);
                if (std::isfinite(v)) cell = QString::number(v, 'g', 10);
            }
            out += (c ? "," : "") + cell;
        }
        out += '\n';
    }
    return out;
}

}  // namespace ms::ui
