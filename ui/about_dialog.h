// Help → About: name, version, licence and the libraries MergeScope stands on.
#pragma once

#include <QDialog>

namespace ms::ui {

class AboutDialog : public QDialog {
    Q_OBJECT
public:
    explicit AboutDialog(QWidget* parent = nullptr);
    // The dialog's text (for tests).
    static QString aboutText();
};

}  // namespace ms::ui
