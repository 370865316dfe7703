#include "ui/panels/results_panel.h"

#include <QDateTime>
#include <QFile>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLineEdit>
#include <QMenu>
#include <QPlainTextEdit>
#include <QPoint>
#include <QPushButton>
#include <QSaveFile>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include "core/store/sweep_points.h"
#include "core/sweep/sweep_point.h"
#include "ui/results_model.h"
#include "ui/workbench.h"

namespace ms::ui {

ResultsPanel::ResultsPanel(Workbench* workbench, QWidget* parent) : QWidget(parent), m_workbench(workbench) {
    auto* layout = new QVBoxLayout(this);
    auto* bar = new QHBoxLayout;
    m_filter = new QLineEdit(this);
    m_filter->setPlaceholderText(tr("filter rows (any column; regular expression)"));
    m_filter->setClearButtonEnabled(true);
    bar->addWidget(m_filter, 1);
    auto* save = new QPushButton(tr("Save merged model…"), this);
    save->setObjectName(QStringLiteral("saveModelButton"));
    auto* csv = new QPushButton(tr("Export CSV…"), this);
    bar->addWidget(save);
    bar->addWidget(csv);
    layout->addLayout(bar);
    m_model = new ResultsModel(this);
    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(Qt::UserRole);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_view = new QTableView(this);
    m_view->setObjectName(QStringLiteral("resultsView"));
    m_view->setModel(m_proxy);
    m_view->setSortingEnabled(true);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setAlternatingRowColors(true);
    m_view->verticalHeader()->setVisible(false);
    m_view->verticalHeader()->setDefaultSectionSize(22);
    m_view->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_view->sortByColumn(-1, Qt::AscendingOrder);
    layout->addWidget(m_view, 1);

    connect(m_filter, &QLineEdit::textChanged, m_proxy,
            [this](const QString& t) { m_proxy->setFilterRegularExpression(QRegularExpression(t, QRegularExpression::CaseInsensitiveOption)); });
    // Every metric of every task is a column shown on demand: the header's context menu lists
    // every column with a check box.
    connect(m_model, &QAbstractItemModel::modelReset, this, [this] {
        for (int c = 0; c < m_model->columnCount(); ++c) m_view->setColumnHidden(c, m_model->isOnDemand(c) && !m_shown.contains(m_model->headerData(c, Qt::Horizontal).toString()));
    });
    m_view->horizontalHeader()->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_view->horizontalHeader(), &QWidget::customContextMenuRequested, this, [this](const QPoint& at) {
        QMenu menu(this);
        for (int c = 0; c < m_model->columnCount(); ++c) {
            const QString title = m_model->headerData(c, Qt::Horizontal).toString();
            QAction* a = menu.addAction(title);
            a->setCheckable(true);
            a->setChecked(!m_view->isColumnHidden(c));
            connect(a, &QAction::toggled, this, [this, c, title](bool on) {
                m_view->setColumnHidden(c, !on);
                if (on) m_shown.insert(title);
                else m_shown.remove(title);
            });
        }
        menu.exec(m_view->horizontalHeader()->mapToGlobal(at));
    });
    connect(m_workbench, &Workbench::experimentChanged, this, [this] { m_model->setExperiment(m_workbench->experiment()); });
    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& current) {
        if (!current.isValid()) return;
        const QPoint p = m_proxy->data(current, ResultsModel::PointRole).toPoint();
        emit pointSelected(p.x(), p.y());
    });
    connect(save, &QPushButton::clicked, this, &ResultsPanel::saveSelectedModel);
    connect(csv, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export results"), QStringLiteral("results.csv"), tr("CSV (*.csv)"));
        QString error;
        if (!path.isEmpty() && !exportCsv(path, &error)) emit m_workbench->message(QStringLiteral("error"), error);
    });
    m_model->setExperiment(m_workbench->experiment());
}

void ResultsPanel::selectPoint(int sweep, int point) {
    const int row = m_model->rowOf(sweep, point);
    if (row < 0) return;
    const QModelIndex i = m_proxy->mapFromSource(m_model->index(row, 0));
    m_view->selectionModel()->setCurrentIndex(i, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    m_view->scrollTo(i);
}

bool ResultsPanel::exportCsv(const QString& path, QString* error) const {
    QSaveFile f(path);  // written to a temporary file and renamed: never half-written
    if (!f.open(QIODevice::WriteOnly | QIODevice::Text) || f.write(m_model->toCsv().toUtf8()) < 0 || !f.commit()) {
        if (error) *error = tr("cannot write %1: %2").arg(path, f.errorString());
        return false;
    }
    emit m_workbench->message(QStringLiteral("info"), tr("results exported to %1").arg(path));
    return true;
}

void ResultsPanel::saveSelectedModel() {
    const QModelIndex current = m_view->selectionModel()->currentIndex();
    if (!current.isValid()) {
        emit m_workbench->message(QStringLiteral("warning"), tr("select a point in the results table first"));
        return;
    }
    const QPoint p = m_proxy->data(current, ResultsModel::PointRole).toPoint();
    const auto& s = m_workbench->experiment().sweeps[static_cast<std::size_t>(p.x())];
    // The point as it was scored, re-made from the experiment by the function `merge --experiment` uses.
    int number = 0;
    try {
        number = core::store::pointNumbers(s).at(static_cast<std::size_t>(p.y()));
    } catch (const std::exception& e) {
        emit m_workbench->message(QStringLiteral("error"), tr("cannot re-make this point: %1").arg(QString::fromUtf8(e.what())));
        return;
    }
    const QString path = QFileDialog::getSaveFileName(this, tr("Save merged model"), QStringLiteral("merged.safetensors"),
                                                      tr("safetensors (*.safetensors);;HDF5 (*.h5)"));
    if (path.isEmpty()) return;
    m_workbench->savePoint(QString::fromStdString(s.id), number, path);
}

LogPanel::LogPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    m_text = new QPlainTextEdit(this);
    m_text->setObjectName(QStringLiteral("logText"));
    m_text->setReadOnly(true);
    m_text->setMaximumBlockCount(5000);
    layout->addWidget(m_text);
}

void LogPanel::append(const QString& level, const QString& text) {
    const QString color = level == QStringLiteral("error") ? QStringLiteral("#b01e1e")
                          : level == QStringLiteral("warning") ? QStringLiteral("#a06000")
                                                               : QStringLiteral("#333333");
    m_text->appendHtml(QStringLiteral("<span style='color:gray'>%1</span> <span style='color:%2'>%3</span>")
                           .arg(QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss")), color, text.toHtmlEscaped()));
}

}  // namespace ms::ui
