"""The main window: the viewer on the left, report / QA chat / tuning tabs on the right."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from jradi_desktop.errors import JRadiError
from jradi_desktop.imaging import XrayImage, open_image, scan_images
from jradi_desktop.inference import GenerationParams, split_report
from jradi_desktop.models import ModelRegistry, ModelSpec
from jradi_desktop.reports import ReportDocument
from jradi_desktop.store import History, ReportRecord
from jradi_desktop.ui.actions import build_menus, retranslate_actions
from jradi_desktop.ui.chat_panel import ChatPanel
from jradi_desktop.ui.demo_install import bundled_demo
from jradi_desktop.ui.generation import GenerationController, error_text
from jradi_desktop.ui.history_panel import HistoryPanel
from jradi_desktop.ui.i18n import set_language
from jradi_desktop.ui.model_manager import FirstStartPage, ModelManagerDialog
from jradi_desktop.ui.report_panel import DRAFT_KEY, ReportPanel
from jradi_desktop.ui.status import StatusBar
from jradi_desktop.ui.tuning import TuningWidget
from jradi_desktop.ui.viewer import ImageViewer, ThumbnailStrip

MAX_RECENT = 10
MAX_FRAMES = 64  # frames of a multi-frame file shown as thumbnails
EXPORT_SUFFIXES = {"txt": ".txt", "md": ".md", "pdf": ".pdf", "sr": ".dcm"}


class MainWindow(QMainWindow):
    imagesLoaded = Signal(object)  # list of (path, XrayImage | JRadiError), from the loader

    def __init__(
        self,
        history: History | None = None,
        registry: ModelRegistry | None = None,
        settings: QSettings | None = None,
    ) -> None:
        super().__init__()
        self.history = history or History()
        self.registry = registry or ModelRegistry()
        self.settings = settings or QSettings("JRadi", "JRadi Desktop")
        self.controller = GenerationController(self)
        self.images: list[XrayImage] = []
        self.current: XrayImage | None = None
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jradi-open")
        self._pending_draft: dict[str, Any] | None = None
        self.report_params = GenerationParams()  # JRadiEvo's: greedy, 256 new tokens

        self.viewer = ImageViewer()
        self.thumbnails = ThumbnailStrip()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.viewer, 1)
        left_layout.addWidget(self.thumbnails)

        self.report = ReportPanel()
        self.first_start = FirstStartPage()
        self.report_stack = QStackedWidget()
        self.report_stack.addWidget(self.first_start)
        self.report_stack.addWidget(self.report)
        self.chat = ChatPanel(self.controller, self.history)
        self.history_panel = HistoryPanel(self.history)
        self.tuning = TuningWidget(self.registry)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.report_stack, "")
        self.tabs.addTab(self.chat, "")
        self.tabs.addTab(self.history_panel, "")
        self.tabs.addTab(self.tuning, "")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([840, 560])  # the image gets the larger share, as in a PACS viewer
        self.splitter = splitter
        self.setCentralWidget(splitter)
        self.status = StatusBar(self.controller)
        self.setStatusBar(self.status)
        self.setAcceptDrops(True)
        self.resize(1400, 860)

        self.thumbnails.selected.connect(lambda row: self.show_image(self.images[row]))
        self.imagesLoaded.connect(self._images_loaded)
        self.report.generateRequested.connect(self.generate_report)
        self.report.stopRequested.connect(self.controller.cancel)
        self.report.draftChanged.connect(self._save_draft)
        self.report.exportRequested.connect(self.export_dialog)
        self.controller.piece.connect(self._piece)
        self.controller.finished.connect(self._finished)
        self.controller.failed.connect(self._failed)
        self.controller.busyChanged.connect(self.report.set_busy)
        self.controller.modelChanged.connect(self._model_changed)
        self.history_panel.openRequested.connect(self.open_report)
        self.tabs.currentChanged.connect(
            lambda _: (
                self.tabs.currentWidget() is self.history_panel and self.history_panel.refresh()
            )
        )
        self.first_start.addRequested.connect(lambda: self.model_manager().choose_gguf())
        self.first_start.demoRequested.connect(self.install_demo_model)
        self.tuning.modelReady.connect(self.set_model)

        self.actions_by_name: dict[str, QAction] = build_menus(self)
        self.retranslate()
        self._model_changed(None)
        default = self.registry.default
        if default:
            self.controller.set_model(self.registry.get(default))

    # -- text -------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.setWindowTitle("JRadi Desktop")
        self.tabs.setTabText(0, self.tr("レポート"))
        self.tabs.setTabText(1, self.tr("医療QA"))
        self.tabs.setTabText(2, self.tr("履歴"))
        self.tabs.setTabText(3, self.tr("チューニング"))
        self.tuning.retranslate()
        self.report.retranslate()
        self.chat.retranslate()
        self.history_panel.retranslate()
        self.first_start.retranslate()
        self.status.retranslate()
        retranslate_actions(self)

    def set_language(self, language: str) -> None:
        """Switch the visible language now and remember it."""
        set_language(language)
        self.controller.language = language
        self.viewer.set_language(language)
        self.settings.setValue("language", language)
        self.actions_by_name[f"language:{language}"].setChecked(True)
        self.retranslate()

    # -- images -----------------------------------------------------------------------------
    def open_paths(self, paths: list[str | Path]) -> None:
        """Open files and folders (folders: every image inside) off the UI thread: the scan
        too, so a slow disk or a folder holding a named pipe never freezes the window."""
        paths = list(paths)

        def load() -> None:
            scan = scan_images(paths)
            results: list[tuple[Path, Any]] = [(exc.path, exc) for exc in scan.skipped]
            for path in scan.files:
                try:
                    first = open_image(path)
                    results.append((path, first))
                    for frame in range(1, min(first.frames, MAX_FRAMES)):
                        results.append((path, open_image(path, frame=frame)))
                except JRadiError as exc:
                    results.append((path, exc))
            self.imagesLoaded.emit(results)

        self._loader.submit(load)

    def _images_loaded(self, results: list[tuple[Path, Any]]) -> None:
        if not results:
            self.statusBar().showMessage(self.tr("画像が見つかりません"), 5000)
            return
        errors = [exc for _, exc in results if isinstance(exc, JRadiError)]
        loaded = [(p, img) for p, img in results if not isinstance(img, JRadiError)]
        for path, image in loaded:
            self.images.append(image)
            label = Path(path).name
            if image.frames > 1:
                label += f" [{image.frame + 1}/{image.frames}]"
            self.thumbnails.add(image, label)
            self._remember_recent(path)
        if loaded:
            self.show_image(loaded[0][1])
        if errors:
            QMessageBox.warning(
                self, self.tr("開けないファイル"),
                "\n\n".join(error_text(e, self.controller.language) for e in errors),
            )  # fmt: skip
        if self._pending_draft is not None and loaded:
            self._apply_pending_draft()

    def show_image(self, image: XrayImage) -> None:
        if self.current is not None and image is not self.current:
            self._commit_report()
            self.report.clear()
        self.current = image
        self.report.set_image(image)
        self.viewer.set_image(image)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    def open_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, self.tr("画像を開く"), "",
            self.tr("画像 (*.dcm *.dicom *.png *.jpg *.jpeg);;すべてのファイル (*)"),
        )  # fmt: skip
        if files:
            self.open_paths(files)

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_paths([p]))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def _remember_recent(self, path: Path) -> None:
        recent = [str(path), *[p for p in self.recent_files() if p != str(path)]]
        self.settings.setValue("recent", recent[:MAX_RECENT])

    # -- models -----------------------------------------------------------------------------
    def set_model(self, spec: ModelSpec | None) -> None:
        self.controller.set_model(spec)

    def _model_changed(self, spec: ModelSpec | None) -> None:
        self.report_stack.setCurrentIndex(1 if spec else 0)

    def model_manager(self) -> ModelManagerDialog:
        """Open the model manager; its default becomes the loaded model."""
        dialog = ModelManagerDialog(self.registry, self)
        dialog.language = self.controller.language
        dialog.defaultChanged.connect(self.set_model)
        dialog.modelEdited.connect(self._model_edited)
        dialog.show()
        return dialog

    def _model_edited(self, spec: ModelSpec) -> None:
        current = self.controller.spec
        if current is not None and current.name == spec.name:
            self.set_model(spec)

    def install_demo_model(self) -> None:
        """Register the demo model shipped with the app and load it."""
        spec = bundled_demo()
        if spec is None:
            text = self.tr(
                "同梱のデモモデル（demo-model）が見つかりません。インストールをやり直してください。"
            )
            QMessageBox.warning(self, self.tr("デモモデル"), text)
            return
        self._register_demo(spec)

    def _register_demo(self, spec: ModelSpec) -> None:
        try:  # installing the demo again replaces its entry (the app's own name)
            self.registry.add(spec, make_default=True, replace=True)
        except JRadiError as exc:
            QMessageBox.warning(self, self.tr("モデルを追加できません"), error_text(exc))
            return
        self.set_model(spec)

    # -- reports ----------------------------------------------------------------------------
    def generate_report(self, indication: str) -> None:
        from jradi_desktop.pipeline import generate_report

        if self.current is None:
            self.statusBar().showMessage(self.tr("先に画像を開いてください"), 5000)
            return
        spec = self.controller.spec
        if spec is None:
            return
        image = self.current
        self._commit_report()
        self.report.begin_stream()
        self.controller.run(
            "report",
            lambda worker, emit: generate_report(
                worker,
                image,
                model_name=spec.name,
                indication=indication,
                params=self.report_params,
                on_piece=emit,
            ),
        )

    def _piece(self, tag: str, text: str) -> None:
        if tag == "report":
            self.report.append_piece(text)

    def _finished(self, tag: str, outcome: dict[str, Any]) -> None:
        if tag != "report":
            return
        result = outcome["result"]
        spec = self.controller.spec
        cancelled = outcome["finish_reason"] == "cancelled"
        self.report.end_stream(
            self.tr("中止しました") if cancelled else self.tr("%1 秒で生成しました").replace(
                "%1", f"{outcome['seconds']:.1f}")
        )  # fmt: skip
        self.report.report_id = self.history.add_report(
            image_path=result.image, model_name=result.model,
            model_path=spec.path if spec and spec.kind == "gguf" else None,
            prompt=result.prompt, indication=self.report.indication.text(),
            generated_text=self.report.generated_text(), final_text=self.report.text(),
            seconds=result.seconds,
        )  # fmt: skip
        self.report.set_busy(False)

    def _failed(self, tag: str, exc: BaseException) -> None:
        if tag != "report":
            return
        self.report.end_stream(self.tr("生成に失敗しました"))
        QMessageBox.warning(self, self.tr("生成エラー"), error_text(exc, self.controller.language))

    def _commit_report(self) -> None:
        """Store the edited text of the report on screen and drop its crash draft."""
        if self.report.report_id is not None:
            self.history.update_final_text(self.report.report_id, self.report.text())
        self.history.discard_draft(DRAFT_KEY)

    def _save_draft(self, draft: dict[str, Any]) -> None:
        draft["image_path"] = str(self.current.source) if self.current else ""
        self.history.save_draft(DRAFT_KEY, draft)
        if self.report.report_id is not None:
            self.history.update_final_text(self.report.report_id, self.report.text())

    # -- export -----------------------------------------------------------------------------
    def report_document(self) -> ReportDocument:
        findings, impression = self.report.sections()
        if self.current is None:
            return ReportDocument(findings=findings, impression=impression)
        spec = self.controller.spec
        return ReportDocument.from_image(
            self.current, findings=findings, impression=impression,
            indication=self.report.indication.text().strip(),
            model_name=spec.name if spec else "",
        )  # fmt: skip

    def export_report(self, fmt: str, path: str | Path) -> None:
        """Write the report as shown (the physician's edits) in ``fmt``: txt, md, pdf, sr."""
        from jradi_desktop.reports import write_dicom_sr, write_markdown, write_text

        document = self.report_document()
        if fmt == "pdf":
            from jradi_desktop.ui.pdf_export import write_pdf

            write_pdf(document, path)
        else:
            writer = {"txt": write_text, "md": write_markdown, "sr": write_dicom_sr}[fmt]
            writer(document, path)
        self._commit_report()

    def export_dialog(self, fmt: str) -> None:
        suffix = EXPORT_SUFFIXES[fmt]
        stem = Path(str(self.current.source)).stem if self.current else "report"
        path, _ = QFileDialog.getSaveFileName(
            self, self.tr("レポートの書き出し"), f"{stem}_report{suffix}", f"*{suffix}"
        )
        if not path:
            return
        try:
            self.export_report(fmt, path)
        except JRadiError as exc:
            QMessageBox.warning(
                self, self.tr("書き出せません"), error_text(exc, self.controller.language)
            )
            return
        self.statusBar().showMessage(self.tr("書き出しました：") + path, 5000)

    def open_report(self, record: ReportRecord) -> None:
        """Bring back a stored report: its image (if still there) and its final text."""
        sections = split_report(record.final_text)
        self._pending_draft = {
            "findings": sections.findings, "impression": sections.impression,
            "indication": record.indication, "generated_text": record.generated_text,
            "report_id": record.id,
        }  # fmt: skip
        if Path(record.image_path).exists():
            self.open_paths([record.image_path])
        else:
            self._apply_pending_draft()

    def offer_draft_back(self, ask: bool = True) -> bool:
        """After a crash: offer the unsaved report draft back (reopening its image)."""
        draft = self.history.drafts().get(DRAFT_KEY)
        if not draft or not (draft.get("findings") or draft.get("impression")):
            return False
        if ask:
            answer = QMessageBox.question(
                self, self.tr("保存されていない下書き"),
                self.tr("前回終了時に保存されていないレポートの下書きがあります。復元しますか？"),
            )  # fmt: skip
            if answer != QMessageBox.StandardButton.Yes:
                self.history.discard_draft(DRAFT_KEY)
                return False
        self._pending_draft = draft
        image_path = draft.get("image_path")
        if image_path and Path(image_path).exists():
            self.open_paths([image_path])
        else:
            self._apply_pending_draft()
        return True

    def _apply_pending_draft(self) -> None:
        draft, self._pending_draft = self._pending_draft, None
        if draft:
            self.report.restore_draft(draft)
            self.tabs.setCurrentIndex(0)

    # -- lifetime ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.tuning.confirm_close():  # a tuning job runs and the user keeps it
            event.ignore()
            return
        self.report.flush_draft()
        self._commit_report()
        self.controller.cancel()
        self.controller.shutdown()
        self._loader.shutdown(wait=False, cancel_futures=True)
        super().closeEvent(event)
