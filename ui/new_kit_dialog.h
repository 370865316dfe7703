// File → New kit…: a kit assembled from files — the base, and per task the expert, its images, an
// optional eval set and head — with the checks of `kit check` shown inline (run on a worker
// thread after each edit; problems listed, the tasks at fault marked), written as a kit file
// (docs/kits.md) that the workbench then opens.
#pragma once

#include <QDialog>
#include <QPointer>
#include <QString>

#include "core/eval/kit_check.h"
#include "core/kit/kit_file.h"
#include "ui/worker.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QTableWidget;
class QTimer;
class QCheckBox;

namespace ms::ui {

class NewKitDialog : public QDialog {
    Q_OBJECT
public:
    explicit NewKitDialog(QWidget* parent = nullptr);
    ~NewKitDialog() override;

    enum Column { Name, Type, Expert, Images, Eval, Targets, EvalTargets, Head, HeadKind, Columns };

    void setKitFile(const QString& path);
    void setName(const QString& name);
    void setBase(const QString& path);
    void setLayout(const QString& layout);          // auto, timm, hf_clip, hf_dinov2, open_clip, torchvision
    void setPreprocess(const QString& preset);      // clip, imagenet, none
    int addTask(const QString& name = {});          // a row; returns its index
    void setCell(int row, Column column, const QString& value);
    QString cell(int row, Column column) const;
    QTableWidget* table() const { return m_tasks; }

    QString kitFile() const;
    core::kit::KitFile kit() const;  // what the fields say (paths absolute)
    QString yaml() const;            // the kit file's text (paths relative to the kit file's folder)

    // Starts the checks (scoring the experts when asked); checked() when done. A check started
    // while one runs cancels it first.
    void check(bool scores = false);
    bool checking() const { return m_worker != nullptr; }
    const core::eval::KitReport& report() const { return m_report; }
    // Writes the kit file (atomically); false with the reason when it cannot.
    bool save(QString* error);

signals:
    void checked(bool ok);

public slots:
    void accept() override;

private:
    void scheduleCheck();
    void showReport();
    void browseCell();
    QString field(const QString& path) const;

    QLineEdit *m_file, *m_name, *m_base;
    QComboBox *m_layout, *m_preprocess;
    QLineEdit* m_pickleAllow = nullptr;
    QTableWidget* m_tasks;
    QPlainTextEdit* m_checks;
    QLabel* m_status;
    QProgressBar* m_progress;
    QPushButton *m_cancel, *m_checkButton, *m_save;
    QCheckBox* m_scores;
    QTimer* m_debounce;
    QPointer<Worker> m_worker;
    core::eval::KitReport m_report;
    QString m_checkFile;  // the temporary kit file the last check read
    bool m_pending = false, m_pendingScores = false;
};

}  // namespace ms::ui
