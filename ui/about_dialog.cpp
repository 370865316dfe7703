#include "ui/about_dialog.h"

#include <QDialogButtonBox>
#include <QLabel>
#include <QVBoxLayout>

namespace ms::ui {

QString AboutDialog::aboutText() {
    return tr("<h3>MergeScope %1</h3>"
              "<p>A workbench for merging neural networks fine-tuned from one pretrained vision "
              "encoder, and for choosing merge hyperparameters with the task alignment proxy.</p>"
              "<p>Licensed under the GNU General Public License, version 3 or later "
              "(GPL-3.0-or-later).</p>"
              "<p>Built with Qt %2, QCustomPlot, LibTorch, HDF5, nlohmann-json, CLI11 and "
              "xxHash.</p>")
        .arg(QStringLiteral(MS_VERSION), QString::fromLatin1(qVersion()));
}

AboutDialog::AboutDialog(QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("About MergeScope"));
    setObjectName(QStringLiteral("AboutDialog"));
    auto* layout = new QVBoxLayout(this);
    auto* label = new QLabel(aboutText(), this);
    label->setObjectName(QStringLiteral("AboutText"));
    label->setWordWrap(true);
    label->setTextFormat(Qt::RichText);
    layout->addWidget(label);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
    setMinimumWidth(420);
}

}  // namespace ms::ui
