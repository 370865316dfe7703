#include "ui/panels/models_panel.h"

#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMimeData>
#include <QPushButton>
#include <QTreeWidget>
#include <QVBoxLayout>

#include "core/errors.h"
#include "core/io/compatibility.h"
#include "core/io/source_factory.h"
#include "ui/task_colors.h"
#include "ui/workbench.h"

namespace ms::ui {

namespace {

QString humanSize(qint64 bytes) {
    if (bytes >= (1LL << 30)) return QStringLiteral("%1 GiB").arg(static_cast<double>(bytes) / (1LL << 30), 0, 'f', 2);
    if (bytes >= (1LL << 20)) return QStringLiteral("%1 MiB").arg(static_cast<double>(bytes) / (1LL << 20), 0, 'f', 1);
    return QStringLiteral("%1 KiB").arg(static_cast<double>(bytes) / 1024.0, 0, 'f', 0);
}

struct FileFacts {
    QString format, size, params, status, detail;
    bool ok = true;
};

// Opening is cheap (headers only; safetensors are mapped), so this runs on the GUI thread.
FileFacts inspect(const QString& path, const QString& basePath) {
    FileFacts f;
    try {
        const auto src = core::io::openCheckpoint(path.toStdString());
        f.format = QString::fromStdString(std::string(src->format()));
        std::uint64_t n = 0;
        for (const auto& t : src->tensors()) n += t.numel;
        f.params = QStringLiteral("%1 M").arg(static_cast<double>(n) / 1e6, 0, 'f', 2);
        f.size = humanSize(QFileInfo(path).size());
        if (!basePath.isEmpty() && basePath != path) {
            const auto base = core::io::openCheckpoint(basePath.toStdString());
            core::io::CompatOptions o;
            o.checkFinite = false;
            const auto report = core::io::checkCompatibility(*base, {src.get()}, o);
            f.ok = report.ok();
            f.status = report.ok() ? QObject::tr("fits the base") : QObject::tr("%1 problem(s)").arg(report.errorCount());
            f.detail = QString::fromStdString(report.format());
        } else {
            f.status = QObject::tr("base");
        }
    } catch (const core::Error& e) {
        f.ok = false;
        f.status = QObject::tr("unreadable");
        f.detail = QString::fromUtf8(e.what());
    }
    return f;
}

}  // namespace

ModelsPanel::ModelsPanel(Workbench* workbench, QWidget* parent) : QWidget(parent), m_workbench(workbench) {
    setAcceptDrops(true);
    auto* layout = new QVBoxLayout(this);
    m_summary = new QLabel(this);
    m_summary->setWordWrap(true);
    layout->addWidget(m_summary);
    m_tree = new QTreeWidget(this);
    m_tree->setObjectName(QStringLiteral("modelsTree"));
    m_tree->setHeaderLabels({tr("model"), tr("format"), tr("size"), tr("parameters"), tr("head"), tr("status")});
    m_tree->setRootIsDecorated(false);
    m_tree->setAlternatingRowColors(true);
    m_tree->header()->setSectionResizeMode(QHeaderView::Interactive);
    m_tree->header()->setStretchLastSection(true);
    layout->addWidget(m_tree, 1);
    auto* buttons = new QHBoxLayout;
    auto* open = new QPushButton(tr("Open kit…"), this);
    auto* add = new QPushButton(tr("Add…"), this);
    add->setToolTip(tr("Add checkpoints (any supported format) and check them against the base"));
    m_analyse = new QPushButton(tr("Analyse"), this);
    m_analyse->setToolTip(tr("Analyse the interference between the experts' task vectors (Interference plot)"));
    m_analyse->setObjectName(QStringLiteral("analyseButton"));
    buttons->addWidget(open);
    buttons->addWidget(add);
    buttons->addStretch();
    buttons->addWidget(m_analyse);
    layout->addLayout(buttons);
    auto* hint = new QLabel(tr("Drop a kit file (.yaml), the demo kit's directory, or checkpoints (.safetensors, .pt, .bin, .h5) here."), this);
    hint->setStyleSheet(QStringLiteral("color: gray"));
    hint->setWordWrap(true);
    layout->addWidget(hint);
    connect(open, &QPushButton::clicked, this, &ModelsPanel::openKitRequested);
    connect(add, &QPushButton::clicked, this, [this] {
        const QStringList files = QFileDialog::getOpenFileNames(
            this, tr("Add checkpoints"), {}, tr("Checkpoints (*.safetensors *.pt *.pth *.bin *.ckpt *.h5 *.hdf5);;All files (*)"));
        for (const auto& f : files) addPath(f);
    });
    connect(m_analyse, &QPushButton::clicked, m_workbench, &Workbench::analyzeInterference);
    connect(m_workbench, &Workbench::kitLoaded, this, &ModelsPanel::refresh);
    refresh();
}

void ModelsPanel::addPath(const QString& path) {
    const QFileInfo info(path);
    if (info.isDir() && QFileInfo::exists(path + QStringLiteral("/kit.yaml"))) return m_workbench->openKit(path);
    // A kit file of any name (kit: 1), or the demo kit's kit.yaml: the kit loader tells them apart.
    if (info.suffix() == QStringLiteral("yaml") || info.suffix() == QStringLiteral("yml")) return m_workbench->openKit(info.absoluteFilePath());
    if (!m_extra.contains(path)) m_extra << path;
    refresh();
}

void ModelsPanel::refresh() {
    m_tree->clear();
    const auto* s = m_workbench->session();
    m_analyse->setEnabled(s != nullptr);
    QString base;
    if (s) {
        m_summary->setText(tr("<b>Kit</b> %1<br>%2").arg(QString::fromStdString(s->kitDir()), QString::fromStdString(s->architecture())));
        base = QString::fromStdString(s->baseFile());
        const FileFacts b = inspect(base, {});
        auto* item = new QTreeWidgetItem(m_tree, {tr("base"), b.format, b.size, b.params, QString(), tr("hash verified")});
        item->setToolTip(0, base);
        int t = 0;
        for (const auto& task : s->tasks()) {
            const QString file = QString::fromStdString(task.expertFile);
            const FileFacts f = inspect(file, {});
            auto* e = new QTreeWidgetItem(m_tree, {QString::fromStdString(task.name), f.format, f.size, f.params,
                                                   QString::fromStdString(task.head),
                                                   tr("%1 %2 (expert)").arg(QString::fromStdString(task.metric)).arg(task.expertScore, 0, 'f', 4)});
            e->setForeground(0, taskColor(t++));
            e->setToolTip(0, file);
            e->setToolTip(5, tr("the expert's own score on the eval split; hash verified"));
        }
    } else {
        m_summary->setText(tr("<b>No kit open.</b> Open one, or build the demo kit (File menu)."));
    }
    for (const auto& path : m_extra) {
        const FileFacts f = inspect(path, base);
        auto* item = new QTreeWidgetItem(m_tree, {QFileInfo(path).fileName(), f.format, f.size, f.params, tr("(added)"), f.status});
        item->setToolTip(0, path);
        if (!f.detail.isEmpty()) item->setToolTip(5, f.detail);
        if (!f.ok) item->setForeground(5, QColor(190, 30, 30));
    }
    for (int c = 0; c < m_tree->columnCount() - 1; ++c) m_tree->resizeColumnToContents(c);
}

void ModelsPanel::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void ModelsPanel::dropEvent(QDropEvent* event) {
    for (const QUrl& url : event->mimeData()->urls())
        if (url.isLocalFile()) addPath(url.toLocalFile());
    event->acceptProposedAction();
}

}  // namespace ms::ui
