"""The report panel: clinical indication, Generate / Stop / Regenerate, 所見 and 印象 editors.

The text streams in while the model writes; afterwards it is the physician's to edit, and the
edits are what gets saved (history) and exported. An autosave timer keeps a draft in the
store every few seconds, so a crash loses at most that much typing. Above the report, a red
note says when the image shown may not be a chest radiograph the model can read
(:func:`~jradi_desktop.imaging.plausibility_notes`), in the interface's language.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from jradi_desktop.imaging import PlausibilityNote, XrayImage, plausibility_notes
from jradi_desktop.inference import ENCODE, split_report
from jradi_desktop.ui.i18n import current_language
from jradi_desktop.ui.widgets import note_label, row

AUTOSAVE_MS = 3000
DRAFT_KEY = "report"


class ReportPanel(QWidget):
    generateRequested = Signal(str)  # the clinical indication
    stopRequested = Signal()
    draftChanged = Signal(dict)  # autosave payload
    exportRequested = Signal(str)  # "txt" | "md" | "pdf" | "sr"
    sendToPacsRequested = Signal()  # the report's SR (+ PDF) to the PACS its image came from

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._raw = ""
        self._streaming = False
        self._dirty = False
        self.report_id: int | None = None
        self.pacs_origin: str | None = None  # the PACS the image was retrieved from

        self.banner = note_label("aiDraftBanner")
        self.image_notes: list[PlausibilityNote] = []
        self.warning = note_label("imageWarning", "danger", bold=True)
        self.warning.hide()
        self.indication = QLineEdit()
        self.generate_button = QPushButton()
        self.stop_button = QPushButton()
        self.regenerate_button = QPushButton()
        self.copy_button = QPushButton()
        self.export_button = QToolButton()
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_menu = QMenu(self)
        self.export_actions = {
            fmt: self.export_menu.addAction("") for fmt in ("txt", "md", "pdf", "sr")
        }
        for fmt, action in self.export_actions.items():
            action.triggered.connect(lambda _=False, f=fmt: self.exportRequested.emit(f))
        self.export_button.setMenu(self.export_menu)
        self.send_button = QPushButton()
        self.send_pdf = QCheckBox(enabled=False)  # 「PDF も送る」: as DICOM Encapsulated PDF
        self.findings = QPlainTextEdit()
        self.impression = QPlainTextEdit()
        self.findings_label = QLabel()
        self.impression_label = QLabel()
        self.indication_label = QLabel()
        self.status = QLabel()
        self.status.setStyleSheet("color: gray")
        self.progress = QProgressBar(textVisible=False, maximumHeight=6, visible=False)

        buttons = row(self.generate_button, self.stop_button, self.regenerate_button, None,
                      self.copy_button, self.export_button, self.send_button,
                      self.send_pdf)  # fmt: skip
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.warning)
        layout.addWidget(self.indication_label)
        layout.addWidget(self.indication)
        layout.addLayout(buttons)
        layout.addWidget(self.findings_label)
        layout.addWidget(self.findings, 3)
        layout.addWidget(self.impression_label)
        layout.addWidget(self.impression, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)

        self.generate_button.clicked.connect(self._generate)
        self.regenerate_button.clicked.connect(self._generate)
        self.stop_button.clicked.connect(self.stopRequested)
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.send_button.clicked.connect(self.sendToPacsRequested)
        for editor in (self.findings, self.impression):
            editor.textChanged.connect(self._edited)
        self.indication.textEdited.connect(self._edited)
        generate = QShortcut(QKeySequence("Ctrl+Return"), self)
        generate.activated.connect(self._generate)
        stop = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        stop.activated.connect(self.stopRequested)

        self._autosave = QTimer(self)
        self._autosave.setInterval(AUTOSAVE_MS)
        self._autosave.timeout.connect(self.flush_draft)
        self._autosave.start()
        self.retranslate()
        self.set_busy(False)

    # -- text -------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.banner.setText(
            self.tr(
                "AI による下書きです。診断に用いる前に、必ず医師が画像を確認し内容を修正してください。"  # noqa: E501 (one literal for lupdate)
            )
        )
        self.indication_label.setText(self.tr("臨床情報（任意）"))
        self.indication.setPlaceholderText(self.tr("例：発熱と咳嗽、術前検査"))
        self.generate_button.setText(self.tr("生成 (Ctrl+Enter)"))
        self.stop_button.setText(self.tr("停止 (Esc)"))
        self.regenerate_button.setText(self.tr("再生成"))
        self.copy_button.setText(self.tr("コピー"))
        self.export_button.setText(self.tr("書き出し"))
        self.export_actions["txt"].setText(self.tr("テキスト (.txt)"))
        self.export_actions["md"].setText(self.tr("Markdown (.md)"))
        self.export_actions["pdf"].setText(self.tr("PDF (.pdf)"))
        self.export_actions["sr"].setText(self.tr("DICOM SR (.dcm)"))
        self.send_button.setText(self.tr("PACSへ送信"))
        self.send_pdf.setText(self.tr("PDF も送る"))
        self.send_pdf.setToolTip(
            self.tr("レポートの PDF も DICOM（Encapsulated PDF）として SR と一緒に送ります")
        )
        self._send_tooltip()
        self.findings_label.setText(self.tr("所見"))
        self.impression_label.setText(self.tr("印象"))
        self._show_notes()

    def text(self) -> str:
        """The report as the physician left it (what is saved and exported)."""
        findings = self.findings.toPlainText().strip()
        impression = self.impression.toPlainText().strip()
        return f"所見：{findings}\n印象：{impression}" if impression else f"所見：{findings}"

    def sections(self) -> tuple[str, str]:
        return self.findings.toPlainText().strip(), self.impression.toPlainText().strip()

    def generated_text(self) -> str:
        return self._raw

    def set_sections(self, findings: str, impression: str) -> None:
        self.findings.setPlainText(findings)
        self.impression.setPlainText(impression)

    def clear(self) -> None:
        self._raw = ""
        self.report_id = None
        self.set_sections("", "")
        self.status.clear()
        self._dirty = False

    def set_pacs_origin(self, name: str | None) -> None:
        """The PACS the image shown came from (None: not from a PACS, nothing to send to)."""
        self.pacs_origin = name
        self._send_tooltip()
        self.send_button.setEnabled(name is not None and not self.stop_button.isEnabled())
        self.send_pdf.setEnabled(name is not None)

    def _send_tooltip(self) -> None:
        if self.pacs_origin is None:
            text = self.tr("PACS タブから開いた画像のレポートだけ送信できます")
        else:
            text = self.tr(
                "レポートを DICOM SR として、画像を取得した PACS「%1」の同じ検査へ送ります"
            ).replace("%1", self.pacs_origin)
        self.send_button.setToolTip(text)

    def set_image(self, image: XrayImage | None) -> None:
        """The image the report is about: its plausibility notes are shown above the report
        (hidden when there are none)."""
        self.image_notes = plausibility_notes(image) if image is not None else []
        self._show_notes()

    def _show_notes(self) -> None:
        language = current_language()
        self.warning.setText("\n".join(f"⚠ {note.message(language)}" for note in self.image_notes))
        self.warning.setVisible(bool(self.image_notes))

    # -- streaming --------------------------------------------------------------------------
    def begin_stream(self) -> None:
        self._raw = ""
        self._streaming = True
        self.report_id = None
        self.set_sections("", "")
        for editor in (self.findings, self.impression):
            editor.setReadOnly(True)
        self.status.setText(self.tr("生成中…"))

    def show_progress(
        self, phase: str, done: int, total: int, seconds_left: float | None = None
    ) -> None:
        """The work before the first token: which phase, how far, about how long is left."""
        if not self._streaming or self._raw:
            return
        text = (self.tr("画像を解析中 %1/%2") if phase == ENCODE
                else self.tr("入力を読み込み中 %1/%2"))  # fmt: skip
        text = text.replace("%1", str(done)).replace("%2", str(total))
        if seconds_left is not None:
            text += self.tr("（残り約 %1 秒）").replace("%1", str(max(1, round(seconds_left))))
        self.status.setText(text)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setVisible(True)

    def append_piece(self, piece: str) -> None:
        if not self._raw:
            self.progress.setVisible(False)
            self.status.setText(self.tr("生成中…"))
        self._raw += piece
        sections = split_report(self._raw)
        self.findings.setPlainText(sections.findings)
        self.impression.setPlainText(sections.impression)
        self.findings.moveCursor(self.findings.textCursor().MoveOperation.End)

    def end_stream(self, message: str) -> None:
        self._streaming = False
        self.progress.setVisible(False)
        for editor in (self.findings, self.impression):
            editor.setReadOnly(False)
        self.status.setText(message)
        self._dirty = True

    def set_busy(self, busy: bool) -> None:
        self.generate_button.setEnabled(not busy)
        self.regenerate_button.setEnabled(not busy and bool(self._raw))
        self.stop_button.setEnabled(busy)
        self.send_button.setEnabled(not busy and self.pacs_origin is not None)

    # -- actions ----------------------------------------------------------------------------
    def _generate(self) -> None:
        if self.generate_button.isEnabled():
            self.generateRequested.emit(self.indication.text().strip())

    def copy_to_clipboard(self) -> None:
        QApplication.clipboard().setText(self.text())

    def _edited(self) -> None:
        if not self._streaming:
            self._dirty = True

    def draft(self) -> dict[str, Any]:
        findings, impression = self.sections()
        return {
            "findings": findings,
            "impression": impression,
            "indication": self.indication.text(),
            "generated_text": self._raw,
            "report_id": self.report_id,
        }

    def restore_draft(self, draft: dict[str, Any]) -> None:
        self._raw = draft.get("generated_text", "")
        self.report_id = draft.get("report_id")
        self.indication.setText(draft.get("indication", ""))
        self.set_sections(draft.get("findings", ""), draft.get("impression", ""))
        self._dirty = True
        self.set_busy(False)

    def flush_draft(self) -> None:
        """Autosave now if anything changed since the last save."""
        if self._dirty and not self._streaming:
            self._dirty = False
            self.draftChanged.emit(self.draft())
