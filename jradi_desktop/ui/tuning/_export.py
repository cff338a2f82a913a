"""The last step of both flows: write the GGUF (optionally quantised) and put it into use —
register it in the model registry and make it the app's model."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from jradi_desktop.contract import QUANT_TYPES
from jradi_desktop.errors import JRadiError
from jradi_desktop.models import ModelRegistry, ModelSpec
from jradi_desktop.ui.tuning._fields import Form, Message

QUANTIZATIONS = (None, *QUANT_TYPES)


class ExportPanel(QGroupBox):
    """Quantisation, 「書き出す」, the files written, the model's name and 「このモデルを使う」."""

    exportRequested = Signal(object)  # quantisation: None or one of QUANT_TYPES
    modelReady = Signal(object)  # the registered ModelSpec

    def __init__(self, registry: ModelRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.gguf: Path | None = None
        self.mmproj: Path | None = None
        self.folder: Path | None = None
        self.quantize = QComboBox()
        self.quantize.addItems(["", *QUANT_TYPES])  # the first is named in retranslate()
        self.export_button = QPushButton()
        self.files = QLabel(wordWrap=True)
        self.files.setTextFormat(Qt.TextFormat.PlainText)
        self.files.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.name = QLineEdit()
        self.use_button = QPushButton()
        self.open_button = QPushButton()
        self.message = Message()
        row = QHBoxLayout()
        row.addWidget(self.quantize)
        row.addWidget(self.export_button)
        row.addStretch(1)
        use = QHBoxLayout()
        use.addWidget(self.name, 1)
        use.addWidget(self.use_button)
        self.form = Form(self)
        self.form.row(row)
        self.form.row(self.files)
        self.form.row(use)
        self.form.row(self.message)
        folder = QHBoxLayout()
        folder.addWidget(self.open_button)
        folder.addStretch(1)
        self.form.row(folder)
        self.export_button.clicked.connect(
            lambda: self.exportRequested.emit(QUANTIZATIONS[self.quantize.currentIndex()])
        )
        self.use_button.clicked.connect(self.use)
        self.open_button.clicked.connect(self._open_folder)
        self.set_exported(None, None)
        self.set_can_export(False)
        self.retranslate()

    def retranslate(self) -> None:
        self.setTitle(self.tr("書き出しと利用"))
        self.form.set_labels(self.tr("量子化"), self.tr("ファイル"), self.tr("モデル名"), "", "")
        self.quantize.setItemText(0, self.tr("なし（F16）"))
        self.export_button.setText(self.tr("GGUF に書き出す"))
        self.use_button.setText(self.tr("このモデルを使う"))
        self.open_button.setText(self.tr("ワークスペースを開く"))
        self._show_files()

    def set_can_export(self, enabled: bool) -> None:
        self.export_button.setEnabled(enabled)

    def set_folder(self, folder: Path | None) -> None:
        self.folder = folder
        self.open_button.setEnabled(folder is not None)

    def set_exported(self, gguf: Path | None, mmproj: Path | None) -> None:
        self.gguf, self.mmproj = gguf, mmproj
        self.use_button.setEnabled(gguf is not None and gguf.is_file())
        self._show_files()

    def _show_files(self) -> None:
        if self.gguf is None:
            self.files.setText(self.tr("まだ書き出していません。"))
            return
        lines = [str(self.gguf)]
        if self.mmproj is not None:
            lines.append(str(self.mmproj))
        self.files.setText("\n".join(lines))

    def use(self) -> ModelSpec | None:
        """Register the exported GGUF (+ mmproj) as the default model and announce it."""
        if self.gguf is None:
            return None
        name = self.name.text().strip() or self.gguf.parent.name
        spec = ModelSpec(name=name, kind="gguf", path=self.gguf, mmproj=self.mmproj)
        try:
            self.registry.add(spec, make_default=True)
        except JRadiError as exc:
            self.message.show_message(str(exc))  # Japanese, then English
            return None
        self.message.show_message(
            self.tr("「%1」を登録し、アプリのモデルにしました。").replace("%1", name), "ok"
        )
        self.modelReady.emit(spec)
        return spec

    def _open_folder(self) -> None:
        if self.folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))
