#include "ui/new_kit_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QTableWidget>
#include <QTemporaryFile>
#include <QTimer>
#include <QVBoxLayout>
#include <memory>

#include "core/errors.h"
#include "ui/worker.h"

namespace ms::ui {

namespace {

QString absolute(const QString& p) { return p.trimmed().isEmpty() ? QString() : QFileInfo(p.trimmed()).absoluteFilePath(); }

const QStringList kTypes = {QStringLiteral("classification"), QStringLiteral("segmentation"), QStringLiteral("regression")};
const QStringList kHeadKinds = {QStringLiteral("auto"), QStringLiteral("linear"), QStringLiteral("zeroshot"), QStringLiteral("dense"),
                                 QStringLiteral("dense_patch"), QStringLiteral("dense_probe"), QStringLiteral("classes")};

QWidget* pathField(QLineEdit* edit, QWidget* parent, const std::function<void()>& browse) {
    auto* w = new QWidget(parent);
    auto* l = new QHBoxLayout(w);
    l->setContentsMargins(0, 0, 0, 0);
    l->addWidget(edit, 1);
    auto* b = new QPushButton(QObject::tr("Browse…"), w);
    QObject::connect(b, &QPushButton::clicked, w, browse);
    l->addWidget(b);
    return w;
}

}  // namespace

NewKitDialog::NewKitDialog(QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("New kit"));
    setObjectName(QStringLiteral("newKitDialog"));
    auto* top = new QVBoxLayout(this);
    auto* form = new QFormLayout;
    m_file = new QLineEdit(this);
    m_file->setPlaceholderText(tr("where the kit file is written, e.g. ~/kits/my-kit.yaml"));
    m_name = new QLineEdit(this);
    m_base = new QLineEdit(this);
    m_base->setPlaceholderText(tr("the pretrained checkpoint (safetensors, .pt/.bin, HDF5, or a Hugging Face folder)"));
    m_layout = new QComboBox(this);
    m_layout->addItems({QStringLiteral("auto"), QStringLiteral("timm"), QStringLiteral("hf_clip"), QStringLiteral("hf_dinov2"), QStringLiteral("open_clip"),
                        QStringLiteral("torchvision")});
    m_preprocess = new QComboBox(this);
    m_preprocess->addItems({QStringLiteral("clip"), QStringLiteral("imagenet"), QStringLiteral("none")});
    form->addRow(tr("Kit file"), pathField(m_file, this, [this] {
                     const QString f = QFileDialog::getSaveFileName(this, tr("Kit file"), m_file->text(), tr("Kit files (*.yaml *.yml)"));
                     if (!f.isEmpty()) m_file->setText(f);
                 }));
    form->addRow(tr("Name"), m_name);
    form->addRow(tr("Base"), pathField(m_base, this, [this] {
                     const QString f = QFileDialog::getOpenFileName(this, tr("Base checkpoint"), m_base->text(),
                                                                    tr("Checkpoints (*.safetensors *.pt *.pth *.bin *.ckpt *.h5 *.hdf5);;All files (*)"));
                     if (!f.isEmpty()) m_base->setText(f);
                 }));
    form->addRow(tr("Weight layout"), m_layout);
    m_pickleAllow = new QLineEdit(this);
    m_pickleAllow->setObjectName(QStringLiteral("kitPickleAllow"));
    m_pickleAllow->setPlaceholderText(tr("classes of whole pickled modules to read (never run), comma-separated: src.*, open_clip.*"));
    form->addRow(tr("Pickle allow"), m_pickleAllow);
    form->addRow(tr("Preprocessing"), m_preprocess);
    top->addLayout(form);

    auto* tasksBox = new QGroupBox(tr("Tasks: an expert and its images each (eval set and head optional: a task with images only is proxy-only)"), this);
    auto* tl = new QVBoxLayout(tasksBox);
    m_tasks = new QTableWidget(0, Columns, tasksBox);
    m_tasks->setObjectName(QStringLiteral("kitTasks"));
    m_tasks->setHorizontalHeaderLabels({tr("Task"), tr("Type"), tr("Expert"), tr("Images"), tr("Eval images"), tr("Targets"),
                                        tr("Eval targets"), tr("Head"), tr("Head kind")});
    m_tasks->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    m_tasks->horizontalHeader()->setStretchLastSection(false);
    for (int c : {Expert, Images, Eval, Head}) m_tasks->setColumnWidth(c, 220);
    m_tasks->setColumnWidth(Name, 110);
    m_tasks->setColumnWidth(Type, 120);
    m_tasks->setColumnWidth(HeadKind, 90);
    tl->addWidget(m_tasks);
    auto* rowButtons = new QHBoxLayout;
    auto* add = new QPushButton(tr("Add task"), tasksBox);
    auto* remove = new QPushButton(tr("Remove task"), tasksBox);
    auto* browse = new QPushButton(tr("Choose a file or folder for the selected cell…"), tasksBox);
    rowButtons->addWidget(add);
    rowButtons->addWidget(remove);
    rowButtons->addWidget(browse);
    rowButtons->addStretch(1);
    tl->addLayout(rowButtons);
    top->addWidget(tasksBox, 1);
    connect(add, &QPushButton::clicked, this, [this] { addTask(); });
    connect(remove, &QPushButton::clicked, this, [this] {
        if (m_tasks->currentRow() >= 0) m_tasks->removeRow(m_tasks->currentRow());
        scheduleCheck();
    });
    connect(browse, &QPushButton::clicked, this, &NewKitDialog::browseCell);

    auto* checksBox = new QGroupBox(tr("Checks (as mergescope-cli kit check)"), this);
    auto* cl = new QVBoxLayout(checksBox);
    auto* statusRow = new QHBoxLayout;
    m_status = new QLabel(tr("add a base and tasks"), checksBox);
    m_status->setObjectName(QStringLiteral("kitCheckStatus"));
    m_progress = new QProgressBar(checksBox);
    m_progress->setVisible(false);
    m_cancel = new QPushButton(tr("Cancel"), checksBox);
    m_cancel->setVisible(false);
    m_scores = new QCheckBox(tr("score the experts (decodes the eval images, runs the encoder)"), checksBox);
    m_checkButton = new QPushButton(tr("Check now"), checksBox);
    statusRow->addWidget(m_status, 1);
    statusRow->addWidget(m_progress);
    statusRow->addWidget(m_cancel);
    statusRow->addWidget(m_scores);
    statusRow->addWidget(m_checkButton);
    cl->addLayout(statusRow);
    m_checks = new QPlainTextEdit(checksBox);
    m_checks->setReadOnly(true);
    m_checks->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_checks->setMinimumHeight(170);
    cl->addWidget(m_checks);
    top->addWidget(checksBox);
    connect(m_checkButton, &QPushButton::clicked, this, [this] { check(m_scores->isChecked()); });
    connect(m_cancel, &QPushButton::clicked, this, [this] {
        if (m_worker) m_worker->cancel();
    });

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel, this);
    m_save = buttons->button(QDialogButtonBox::Save);
    m_save->setText(tr("Save and open"));
    connect(buttons, &QDialogButtonBox::accepted, this, &NewKitDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    top->addWidget(buttons);

    m_debounce = new QTimer(this);
    m_debounce->setSingleShot(true);
    m_debounce->setInterval(600);
    connect(m_debounce, &QTimer::timeout, this, [this] { check(false); });
    for (QLineEdit* e : {m_file, m_name, m_base, m_pickleAllow}) connect(e, &QLineEdit::textChanged, this, &NewKitDialog::scheduleCheck);
    for (QComboBox* c : {m_layout, m_preprocess}) connect(c, &QComboBox::currentTextChanged, this, &NewKitDialog::scheduleCheck);
    connect(m_tasks, &QTableWidget::cellChanged, this, &NewKitDialog::scheduleCheck);
    resize(1280, 760);
}

NewKitDialog::~NewKitDialog() {
    if (m_worker) m_worker->cancel();
    if (!m_checkFile.isEmpty()) QFile::remove(m_checkFile);
}

void NewKitDialog::setKitFile(const QString& path) { m_file->setText(path); }
void NewKitDialog::setName(const QString& name) { m_name->setText(name); }
void NewKitDialog::setBase(const QString& path) { m_base->setText(path); }
void NewKitDialog::setLayout(const QString& layout) { m_layout->setCurrentText(layout); }
void NewKitDialog::setPreprocess(const QString& preset) { m_preprocess->setCurrentText(preset); }
QString NewKitDialog::kitFile() const { return absolute(m_file->text()); }

int NewKitDialog::addTask(const QString& name) {
    const int row = m_tasks->rowCount();
    m_tasks->insertRow(row);
    auto* type = new QComboBox(m_tasks);
    type->addItems(kTypes);
    m_tasks->setCellWidget(row, Type, type);
    auto* kind = new QComboBox(m_tasks);
    kind->addItems(kHeadKinds);
    m_tasks->setCellWidget(row, HeadKind, kind);
    connect(type, &QComboBox::currentTextChanged, this, &NewKitDialog::scheduleCheck);
    connect(kind, &QComboBox::currentTextChanged, this, &NewKitDialog::scheduleCheck);
    for (int c : {Name, Expert, Images, Eval, Targets, EvalTargets, Head}) m_tasks->setItem(row, c, new QTableWidgetItem);
    m_tasks->item(row, Name)->setText(name.isEmpty() ? tr("task%1").arg(row + 1) : name);
    return row;
}

void NewKitDialog::setCell(int row, Column column, const QString& value) {
    if (auto* box = qobject_cast<QComboBox*>(m_tasks->cellWidget(row, column))) {
        box->setCurrentText(value);
        return;
    }
    if (!m_tasks->item(row, column)) m_tasks->setItem(row, column, new QTableWidgetItem);
    m_tasks->item(row, column)->setText(value);
}

QString NewKitDialog::cell(int row, Column column) const {
    if (auto* box = qobject_cast<QComboBox*>(m_tasks->cellWidget(row, column))) return box->currentText();
    const QTableWidgetItem* i = m_tasks->item(row, column);
    return i ? i->text().trimmed() : QString();
}

void NewKitDialog::browseCell() {
    const int row = m_tasks->currentRow(), col = m_tasks->currentColumn();
    if (row < 0 || col == Name || col == Type || col == HeadKind) return;
    QString chosen;
    if (col == Expert || col == Head) {
        chosen = QFileDialog::getOpenFileName(this, m_tasks->horizontalHeaderItem(col)->text(), cell(row, static_cast<Column>(col)));
    } else {
        // Image sources are folders (ImageFolder, flat) or files (CSV list, HDF5 set).
        chosen = QFileDialog::getExistingDirectory(this, m_tasks->horizontalHeaderItem(col)->text(), cell(row, static_cast<Column>(col)));
        if (chosen.isEmpty())
            chosen = QFileDialog::getOpenFileName(this, m_tasks->horizontalHeaderItem(col)->text(), QString(),
                                                  tr("Image lists and sets (*.csv *.txt *.h5 *.hdf5)"));
    }
    if (!chosen.isEmpty()) setCell(row, static_cast<Column>(col), chosen);
}

core::kit::KitFile NewKitDialog::kit() const {
    core::kit::KitFile k;
    k.path = kitFile().toStdString();
    k.name = m_name->text().trimmed().isEmpty() ? QFileInfo(kitFile()).completeBaseName().toStdString() : m_name->text().trimmed().toStdString();
    k.base = absolute(m_base->text()).toStdString();
    k.layout = m_layout->currentText().toStdString();
    k.preprocessPreset = m_preprocess->currentText().toStdString();
    for (const QString& g : m_pickleAllow->text().split(QLatin1Char(','), Qt::SkipEmptyParts))
        if (!g.trimmed().isEmpty()) k.pickleAllow.push_back(g.trimmed().toStdString());
    for (int r = 0; r < m_tasks->rowCount(); ++r) {
        core::kit::TaskEntry t;
        t.name = cell(r, Name).toStdString();
        t.type = core::kit::parseTaskType(cell(r, Type).toStdString());
        t.expert = absolute(cell(r, Expert)).toStdString();
        t.images = absolute(cell(r, Images)).toStdString();
        t.eval = absolute(cell(r, Eval)).toStdString();
        t.targets = absolute(cell(r, Targets)).toStdString();
        t.evalTargets = absolute(cell(r, EvalTargets)).toStdString();
        if (cell(r, HeadKind) == QStringLiteral("classes")) {
            // A zero-shot head from the class names in the Head cell's file (OpenAI's templates);
            // an unreadable file is kept so that the check names it.
            t.head.kind = "zeroshot";
            t.head.classesFile = absolute(cell(r, Head)).toStdString();
            t.head.templateSet = "openai";
            try {
                t.head.classNames = core::kit::readClassNames(t.head.classesFile);
            } catch (const core::Error&) {
                t.head.classNames = {""};
            }
        } else {
            t.head.file = absolute(cell(r, Head)).toStdString();
            if (cell(r, HeadKind) != QStringLiteral("auto")) t.head.kind = cell(r, HeadKind).toStdString();
        }
        t.dataset = t.images;
        k.tasks.push_back(std::move(t));
    }
    return k;
}

QString NewKitDialog::yaml() const {
    const QString dir = QFileInfo(kitFile()).absolutePath();
    return QString::fromStdString("# Written by MergeScope's New kit dialog (docs/kits.md).\n" + core::kit::kitFileYaml(kit(), dir.toStdString()));
}

void NewKitDialog::scheduleCheck() {
    m_status->setText(tr("edited: checking shortly…"));
    m_debounce->start();
}

void NewKitDialog::check(bool scores) {
    m_debounce->stop();
    if (m_worker) {
        // One check at a time: cancel this one, run the newest when it has stopped.
        m_pending = true;
        m_pendingScores = m_pendingScores || scores;
        m_worker->cancel();
        return;
    }
    // Absolute paths in a temporary kit file: the check reads exactly what Save would write.
    auto tmp = std::make_unique<QTemporaryFile>(QDir::tempPath() + QStringLiteral("/mergescope-kit-check-XXXXXX.yaml"));
    tmp->setAutoRemove(false);
    if (!tmp->open()) {
        m_status->setText(tr("cannot write a temporary file to check the kit"));
        return;
    }
    tmp->write(QString::fromStdString(core::kit::kitFileYaml(kit(), "")).toUtf8());
    tmp->close();
    if (!m_checkFile.isEmpty()) QFile::remove(m_checkFile);
    m_checkFile = tmp->fileName();
    const std::string file = m_checkFile.toStdString();
    auto report = std::make_shared<core::eval::KitReport>();
    core::eval::CheckOptions options;
    options.scores = scores;
    options.probeSize = 32;
    options.realignSamples = 32;
    options.evalLimit = scores ? 256 : 1;
    m_status->setText(scores ? tr("checking and scoring the experts…") : tr("checking…"));
    m_progress->setRange(0, 0);
    m_progress->setVisible(true);
    m_cancel->setVisible(true);
    m_worker = Worker::start(tr("Checking the kit"), [file, options, report](core::ProgressSink& p, const core::CancelToken& c) {
        *report = core::eval::checkKit(file, options, p, &c);
    }, this);
    connect(m_worker, &Worker::progress, this, [this](const QString& stage, qulonglong done, qulonglong total) {
        m_status->setText(stage);
        m_progress->setRange(0, static_cast<int>(std::min<qulonglong>(total, 1u << 30)));
        m_progress->setValue(static_cast<int>(std::min<qulonglong>(done, 1u << 30)));
    });
    connect(m_worker, &Worker::finished, this, [this, report](bool ok, const QString& message) {
        m_worker = nullptr;
        m_progress->setVisible(false);
        m_cancel->setVisible(false);
        if (ok) {
            m_report = *report;
            showReport();
        } else {
            m_status->setText(message == QStringLiteral("cancelled") ? tr("check cancelled") : tr("check failed: %1").arg(message));
        }
        if (m_pending) {
            m_pending = false;
            const bool s = m_pendingScores;
            m_pendingScores = false;
            check(s);
            return;
        }
        emit checked(ok && m_report.ok());
    });
}

void NewKitDialog::showReport() {
    // Messages name the temporary file the check read; show the kit file instead.
    QString text = QString::fromStdString(core::eval::kitReportText(m_report));
    const QString shown = kitFile().isEmpty() ? tr("(the kit file)") : kitFile();
    text.replace(m_checkFile, shown);
    m_checks->setPlainText(text);
    const int problems = static_cast<int>(m_report.problems.size());
    m_status->setText(problems == 0 ? tr("no problems found") : problems == 1 ? tr("1 problem: see below") : tr("%1 problems: see below").arg(problems));
    m_status->setStyleSheet(problems == 0 ? QStringLiteral("color: #1a7f37;") : QStringLiteral("color: #b42318; font-weight: bold;"));
    // Mark the tasks a problem names.
    for (int r = 0; r < m_tasks->rowCount(); ++r) {
        bool bad = false;
        const std::string name = cell(r, Name).toStdString();
        std::vector<std::string> files;
        for (Column c : {Expert, Images, Eval, Head, Targets, EvalTargets})
            if (!cell(r, c).isEmpty()) files.push_back(absolute(cell(r, c)).toStdString());
        for (const auto& p : m_report.problems) {
            bad = bad || p.find("task " + name + ":") != std::string::npos || p.find("(" + name + ")") != std::string::npos;
            for (const auto& f : files) bad = bad || p.find(f) != std::string::npos;
        }
        for (int c = 0; c < Columns; ++c)
            if (auto* item = m_tasks->item(r, c)) {
                const QSignalBlocker block(m_tasks);
                item->setBackground(bad ? QColor(0xfd, 0xe2, 0xe1) : QBrush());
            }
    }
}

bool NewKitDialog::save(QString* error) {
    const QString path = kitFile();
    if (path.isEmpty()) {
        if (error) *error = tr("choose where the kit file goes");
        return false;
    }
    try {
        (void)kit();
    } catch (const core::Error& e) {
        if (error) *error = QString::fromUtf8(e.what());
        return false;
    }
    QDir().mkpath(QFileInfo(path).absolutePath());
    QSaveFile f(path);  // written to a temporary file, renamed on commit
    if (!f.open(QIODevice::WriteOnly) || f.write(yaml().toUtf8()) < 0 || !f.commit()) {
        if (error) *error = tr("cannot write %1: %2").arg(path, f.errorString());
        return false;
    }
    return true;
}

void NewKitDialog::accept() {
    QString error;
    if (!save(&error)) {
        m_status->setText(error);
        m_status->setStyleSheet(QStringLiteral("color: #b42318; font-weight: bold;"));
        return;
    }
    QDialog::accept();
}

}  // namespace ms::ui
