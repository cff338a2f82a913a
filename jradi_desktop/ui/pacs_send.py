"""「PACSへ送信」: the report on screen, as the physician left it, back to the PACS its image
came from, as a DICOM Basic Text SR filed in the image's study (C-STORE, off the UI thread).

The PACS is the one recorded when the study was retrieved into the cache
(:meth:`~jradi_desktop.pacs.StudyCache.origin`); the SR is written to a temporary folder,
sent, and removed. The result is shown in the report panel's status line; a failure also in a
message box that does not block the window.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox

from jradi_desktop.errors import JRadiError
from jradi_desktop.pacs import PacsRegistry, SendResult, StudyCache, send_report_sr
from jradi_desktop.ui.generation import error_text
from jradi_desktop.ui.i18n import current_language
from jradi_desktop.ui.pacs_job import PacsJob
from jradi_desktop.ui.report_panel import ReportPanel
from jradi_desktop.ui.report_session import ReportSession


class PacsSender(QObject):
    sent = Signal(object)  # SendResult
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
        self.box: QMessageBox | None = None
        self.panel.sendToPacsRequested.connect(self.send)

    def send(self) -> None:
        """Send the report on screen (ignored while a send runs)."""
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

        def request(_progress: Any, _stop: Any) -> SendResult:
            with tempfile.TemporaryDirectory(prefix="jradi-sr-") as folder:
                return send_report_sr(entry, document, Path(folder) / "report-sr.dcm")

        job = PacsJob("send", request, self)
        job.finished.connect(self._sent)
        job.failed.connect(self._failed)
        self.job = job
        self.panel.send_button.setEnabled(False)
        self.panel.status.setText(self.tr("PACS「%1」へ送信中…").replace("%1", name))
        job.start()

    def _done(self) -> None:
        self.job = None
        self.panel.set_pacs_origin(self.panel.pacs_origin)

    def _sent(self, result: SendResult) -> None:
        self._done()
        self.session.commit()
        name = self.panel.pacs_origin or ""
        text = self.tr("PACS「%1」へレポート（DICOM SR）を送信しました").replace("%1", name)
        self.panel.status.setText(text)
        self.message.emit(text)
        self.sent.emit(result)

    def _failed(self, exc: BaseException) -> None:
        self._done()
        title = self.tr("PACSへ送信できません")
        self.panel.status.setText(title)
        self.box = QMessageBox(
            QMessageBox.Icon.Warning, title, error_text(exc, current_language()),
            QMessageBox.StandardButton.Ok, self.panel,
        )  # fmt: skip
        self.box.open()  # window-modal, the event loop runs on
