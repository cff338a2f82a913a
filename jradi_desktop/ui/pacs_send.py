"""「PACSへ送信」: the report on screen, as the physician left it, back to the PACS its image
came from, as a DICOM Basic Text SR filed in the image's study and, with 「PDF も送る」, its
PDF as DICOM Encapsulated PDF in the same study (C-STORE, one association, off the UI thread).

The PACS is the one recorded when the study was retrieved into the cache
(:meth:`~jradi_desktop.pacs.StudyCache.origin`). The PDF is drawn first, on the UI thread
(Qt's PDF writer belongs to the thread that owns the application), into a temporary folder;
the SR is written there too, both are sent, and the folder is removed. The result is shown in
the report panel's status line; a failure also in a message box that does not block the
window.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox

from jradi_desktop.errors import JRadiError
from jradi_desktop.pacs import PacsRegistry, SendResult, StudyCache, send_report
from jradi_desktop.ui.generation import error_text
from jradi_desktop.ui.i18n import current_language
from jradi_desktop.ui.pacs_job import PacsJob
from jradi_desktop.ui.pdf_export import write_pdf
from jradi_desktop.ui.report_panel import ReportPanel
from jradi_desktop.ui.report_session import ReportSession

PDF_NAME = "report.pdf"


class PacsSender(QObject):
    sent = Signal(object)  # list[SendResult]: the SR's, then the PDF's if it was sent
    message = Signal(str)  # for the status bar

    def __init__(
        self,
        session: ReportSession,
        registry: PacsRegistry,
        cache: StudyCache,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.panel: ReportPanel = session.panel
        self.registry = registry
        self.cache = cache
        self.job: PacsJob | None = None
        self.folder: tempfile.TemporaryDirectory[str] | None = None
        self.box: QMessageBox | None = None
        self.panel.sendToPacsRequested.connect(self.send)

    def send(self) -> None:
        """Send the report on screen (ignored while a send runs); with 「PDF も送る」 checked,
        its PDF too, drawn here before the C-STORE runs off the UI thread."""
        image = self.session.image
        name = self.cache.origin(image.source if image is not None else None)
        if self.job is not None or name is None:
            return
        try:
            entry = self.registry.get(name)
        except JRadiError as exc:
            self._failed(exc)
            return
        document = self.session.document()
        self.folder = tempfile.TemporaryDirectory(prefix="jradi-pacs-")
        folder = Path(self.folder.name)
        pdf = None
        if self.panel.send_pdf.isChecked():
            try:
                pdf = write_pdf(document, folder / PDF_NAME)
            except JRadiError as exc:
                self._failed(exc)
                return

        def request(_progress: Any, _stop: Any) -> list[SendResult]:
            return send_report(entry, document, folder, pdf)

        job = PacsJob("send", request, self)
        job.finished.connect(self._sent)
        job.failed.connect(self._failed)
        self.job = job
        self.panel.send_button.setEnabled(False)
        self.panel.status.setText(self.tr("PACS「%1」へ送信中…").replace("%1", name))
        job.start()

    def _done(self) -> None:
        self.job = None
        if self.folder is not None:
            self.folder.cleanup()
            self.folder = None
        self.panel.set_pacs_origin(self.panel.pacs_origin)

    def _sent(self, results: list[SendResult]) -> None:
        self._done()
        self.session.commit()
        name = self.panel.pacs_origin or ""
        if len(results) > 1:  # the SR and the PDF
            text = self.tr("PACS「%1」へレポート（DICOM SR と PDF）を送信しました")
        else:
            text = self.tr("PACS「%1」へレポート（DICOM SR）を送信しました")
        text = text.replace("%1", name)
        self.panel.status.setText(text)
        self.message.emit(text)
        self.sent.emit(results)

    def _failed(self, exc: BaseException) -> None:
        self._done()
        title = self.tr("PACSへ送信できません")
        self.panel.status.setText(title)
        self.box = QMessageBox(
            QMessageBox.Icon.Warning, title, error_text(exc, current_language()),
            QMessageBox.StandardButton.Ok, self.panel,
        )  # fmt: skip
        self.box.open()  # window-modal, the event loop runs on
