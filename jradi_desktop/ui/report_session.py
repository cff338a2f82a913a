"""One report's lifecycle, as :class:`~jradi_desktop.ui.chat_panel.ChatPanel` owns the chat's:
the image it is about, the indication as sent, streaming, the crash draft, the history entry
and the export. The window shows :class:`ReportPanel` and hands images over; this object owns
what happens to the report, so the window only wires panels and actions.

What the model was asked is fixed when the report is sent: an edit of the indication box while
(or after) it streams is a new question for the next report, not part of this one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox

from jradi_desktop.errors import JRadiError
from jradi_desktop.imaging import XrayImage, to_model_rgb
from jradi_desktop.inference import (
    GenerationParams,
    Progress,
    build_report_messages,
    split_report,
)
from jradi_desktop.models import ModelSpec
from jradi_desktop.pipeline import PhaseClock, ReportResult
from jradi_desktop.reports import ReportDocument
from jradi_desktop.store import History, ReportRecord
from jradi_desktop.ui.generation import GenerationController, GenerationJob, JobOutcome, error_text
from jradi_desktop.ui.report_panel import DRAFT_KEY, ReportPanel

EXPORT_SUFFIXES = {"txt": ".txt", "md": ".md", "pdf": ".pdf", "sr": ".dcm"}


@dataclass(frozen=True)
class SentReport:
    """A report job's result: the model's draft, the indication it was asked with and the
    model that wrote it (the model or the box may have changed while it streamed)."""

    report: ReportResult
    indication: str
    model: ModelSpec


class ReportSession(QObject):
    message = Signal(str)  # a status-bar message
    restored = Signal()  # a draft or a stored report is back on screen

    def __init__(
        self,
        panel: ReportPanel,
        controller: GenerationController,
        history: History,
        open_paths: Callable[[list[str]], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self.controller = controller
        self.history = history
        self.params = GenerationParams()  # JRadiEvo's: greedy, 256 new tokens
        self.image: XrayImage | None = None
        self.job: GenerationJob | None = None
        self._open_paths = open_paths
        self._sent: str | None = None  # the indication of the report on screen, once sent
        self._pending_draft: dict[str, Any] | None = None  # waits for its image to load

        panel.generateRequested.connect(self.generate)
        panel.stopRequested.connect(controller.cancel)  # enabled while the model is busy
        panel.draftChanged.connect(self._save_draft)
        panel.exportRequested.connect(self.export_dialog)
        controller.busyChanged.connect(panel.set_busy)

    @property
    def indication(self) -> str:
        """The indication of the report on screen: as sent, or as typed before any was."""
        return self.panel.indication.text() if self._sent is None else self._sent

    def set_image(self, image: XrayImage) -> None:
        """Show ``image``; the report of another image is stored and a new one begins."""
        if self.image is not None and image is not self.image:
            self.commit()
            self.panel.clear()
            self._sent = None
        self.image = image
        self.panel.set_image(image)
        self.read_ahead()

    def read_ahead(self) -> None:
        """Start on the open image's report at once (its S² encoding and the prompt up to
        the indication, kept by the worker), so that 下書き作成 waits less: on a CPU the image
        takes tens of seconds that the clinician spends looking at it."""
        image = self.image
        if image is None:
            return

        def ahead(worker: Any) -> None:
            worker.read_ahead(build_report_messages(""), [to_model_rgb(image)])

        self.controller.read_ahead(ahead)

    # -- generating -------------------------------------------------------------------------
    def generate(self, indication: str) -> None:
        from jradi_desktop.pipeline import generate_report

        if self.image is None:
            self.message.emit(self.tr("先に画像を開いてください"))
            return
        spec = self.controller.spec
        if spec is None:
            return
        image, params = self.image, self.params

        def job(worker: Any, emit: Callable[[str], None], progress: Progress) -> SentReport:
            report = generate_report(
                worker, image, model_name=spec.name, indication=indication, params=params,
                on_piece=emit, on_progress=progress,
            )  # fmt: skip
            return SentReport(report, indication, spec)

        clock = PhaseClock()

        def show_progress(phase: str, done: int, total: int) -> None:
            self.panel.show_progress(phase, done, total, clock.left(phase, done, total))

        self.commit()
        slots = {"piece": self.panel.append_piece, "progress": show_progress,
                 "finished": self._finished, "failed": self._failed}  # fmt: skip
        self.job = self.controller.run("report", job, slots, uses_read_ahead=True)
        if self.job is not None:
            self._sent = indication
            self.panel.begin_stream()

    def _finished(self, outcome: JobOutcome) -> None:
        sent: SentReport = outcome.result
        cancelled = outcome.finish_reason == "cancelled"
        self.panel.end_stream(
            self.tr("中止しました") if cancelled else self.tr("%1 秒で生成しました").replace(
                "%1", f"{outcome.seconds:.1f}")
        )  # fmt: skip
        self.panel.report_id = self.history.add_report(
            image_path=sent.report.image, model_name=sent.report.model,
            model_path=sent.model.path if sent.model.kind == "gguf" else None,
            prompt=sent.report.prompt, indication=sent.indication,
            generated_text=self.panel.generated_text(), final_text=self.panel.text(),
            seconds=sent.report.seconds,
        )  # fmt: skip
        self.panel.set_busy(False)

    def _failed(self, exc: BaseException) -> None:
        self.panel.end_stream(self.tr("生成に失敗しました"))
        text = error_text(exc, self.controller.language)
        QMessageBox.warning(self.panel, self.tr("生成エラー"), text)

    # -- storing ----------------------------------------------------------------------------
    def commit(self) -> None:
        """Store the edited text of the report on screen and drop its crash draft."""
        if self.panel.report_id is not None:
            self.history.update_final_text(self.panel.report_id, self.panel.text())
        self.history.discard_draft(DRAFT_KEY)

    def _save_draft(self, draft: dict[str, Any]) -> None:
        draft["indication"] = self.indication
        draft["image_path"] = str(self.image.source) if self.image else ""
        self.history.save_draft(DRAFT_KEY, draft)
        if self.panel.report_id is not None:
            self.history.update_final_text(self.panel.report_id, self.panel.text())

    def open_report(self, record: ReportRecord) -> None:
        """Bring back a stored report: its image (if still there) and its final text."""
        sections = split_report(record.final_text)
        draft = {
            "findings": sections.findings, "impression": sections.impression,
            "indication": record.indication, "generated_text": record.generated_text,
            "report_id": record.id,
        }  # fmt: skip
        self._restore(draft, record.image_path)

    def offer_draft_back(self, ask: bool = True) -> bool:
        """After a crash: offer the unsaved report draft back (reopening its image)."""
        draft = self.history.drafts().get(DRAFT_KEY)
        if not draft or not (draft.get("findings") or draft.get("impression")):
            return False
        if ask:
            answer = QMessageBox.question(
                self.panel, self.tr("保存されていない下書き"),
                self.tr("前回終了時に保存されていないレポートの下書きがあります。復元しますか？"),
            )  # fmt: skip
            if answer != QMessageBox.StandardButton.Yes:
                self.history.discard_draft(DRAFT_KEY)
                return False
        self._restore(draft, draft.get("image_path"))
        return True

    def _restore(self, draft: dict[str, Any], image_path: str | None) -> None:
        self._pending_draft = draft
        if image_path and Path(image_path).exists():
            self._open_paths([image_path])  # the draft follows once the image is shown
        else:
            self.apply_pending_draft()

    def apply_pending_draft(self) -> None:
        """Put a restored draft on screen (called when its image has loaded)."""
        draft, self._pending_draft = self._pending_draft, None
        if draft:
            self.panel.restore_draft(draft)
            self._sent = draft.get("indication", "") if draft.get("generated_text") else None
            self.restored.emit()

    # -- export -----------------------------------------------------------------------------
    def document(self) -> ReportDocument:
        findings, impression = self.panel.sections()
        if self.image is None:
            return ReportDocument(findings=findings, impression=impression)
        spec = self.controller.spec
        return ReportDocument.from_image(
            self.image, findings=findings, impression=impression,
            indication=self.indication.strip(), model_name=spec.name if spec else "",
        )  # fmt: skip

    def export(self, fmt: str, path: str | Path) -> None:
        """Write the report as shown (the physician's edits) in ``fmt``: txt, md, pdf, sr."""
        from jradi_desktop.reports import write_dicom_sr, write_markdown, write_text

        document = self.document()
        if fmt == "pdf":
            from jradi_desktop.ui.pdf_export import write_pdf

            write_pdf(document, path)
        else:
            writer = {"txt": write_text, "md": write_markdown, "sr": write_dicom_sr}[fmt]
            writer(document, path)
        self.commit()

    def export_dialog(self, fmt: str) -> None:
        suffix = EXPORT_SUFFIXES[fmt]
        stem = Path(str(self.image.source)).stem if self.image else "report"
        path, _ = QFileDialog.getSaveFileName(
            self.panel, self.tr("レポートの書き出し"), f"{stem}_report{suffix}", f"*{suffix}"
        )
        if not path:
            return
        try:
            self.export(fmt, path)
        except JRadiError as exc:
            text = error_text(exc, self.controller.language)
            QMessageBox.warning(self.panel, self.tr("書き出せません"), text)
            return
        self.message.emit(self.tr("書き出しました：") + path)
