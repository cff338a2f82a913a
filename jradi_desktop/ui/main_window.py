"""The main window: the viewer on the left, report / QA chat / history / tuning / PACS tabs on
the right.

The window opens images and wires panels and actions; a report's lifecycle (generation,
draft, history, export) is :class:`~jradi_desktop.ui.report_session.ReportSession`'s."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
)

from jradi_desktop.errors import JRadiError
from jradi_desktop.imaging import XrayImage, open_image, scan_images
from jradi_desktop.models import ModelRegistry, ModelSpec
from jradi_desktop.pacs import DEFAULT_CACHE_LIMIT, PacsRegistry, StudyCache
from jradi_desktop.store import History
from jradi_desktop.ui.actions import build_menus, retranslate_actions
from jradi_desktop.ui.chat_panel import ChatPanel
from jradi_desktop.ui.demo_install import bundled_demo
from jradi_desktop.ui.first_start import FirstStartPage
from jradi_desktop.ui.generation import GenerationController, error_text
from jradi_desktop.ui.history_panel import HistoryPanel
from jradi_desktop.ui.i18n import set_language
from jradi_desktop.ui.model_manager import ModelManagerDialog
from jradi_desktop.ui.pacs_cache_box import GIB, limit_bytes
from jradi_desktop.ui.pacs_panel import PacsPanel
from jradi_desktop.ui.pacs_send import PacsSender
from jradi_desktop.ui.report_panel import ReportPanel
from jradi_desktop.ui.report_session import ReportSession
from jradi_desktop.ui.status import StatusBar
from jradi_desktop.ui.tuning import TuningWidget
from jradi_desktop.ui.viewer import ImageViewer, ThumbnailStrip
from jradi_desktop.ui.widgets import column

MAX_RECENT = 10
CACHE_LIMIT_KEY = "pacsCacheLimitGiB"  # the PACS cache's limit, set in 「PACS の設定」
MAX_FRAMES = 64  # frames of a multi-frame file shown as thumbnails


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
        self.controller.read_ahead_enabled = _true(self.settings.value("readAhead", True))
        self.images: list[XrayImage] = []
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jradi-open")

        self.viewer = ImageViewer()
        self.thumbnails = ThumbnailStrip()
        left = column((self.viewer, 1), self.thumbnails)

        self.report = ReportPanel()
        self.session = ReportSession(self.report, self.controller, self.history, self.open_paths)
        self.first_start = FirstStartPage()
        self.report_stack = QStackedWidget()
        self.report_stack.addWidget(self.first_start)
        self.report_stack.addWidget(self.report)
        self.chat = ChatPanel(self.controller, self.history)
        self.history_panel = HistoryPanel(self.history)
        self.tuning = TuningWidget(self.registry)
        self.pacs_cache = StudyCache(limit_bytes=_cache_limit(self.settings))
        self.pacs = PacsPanel(PacsRegistry(), self.pacs_cache)
        self.pacs.cacheLimitChanged.connect(
            lambda size: self.settings.setValue(CACHE_LIMIT_KEY, size / GIB)
        )
        self.pacs_sender = PacsSender(self.session, self.pacs.registry, self.pacs_cache, self)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.report_stack, "")
        self.tabs.addTab(self.chat, "")
        self.tabs.addTab(self.history_panel, "")
        self.tabs.addTab(self.tuning, "")
        self.tabs.addTab(self.pacs, "")

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
        self.session.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.session.restored.connect(lambda: self.tabs.setCurrentIndex(0))
        self.controller.modelChanged.connect(self._model_changed)
        self.history_panel.openRequested.connect(self.session.open_report)
        self.tabs.currentChanged.connect(
            lambda _: (
                self.tabs.currentWidget() is self.history_panel and self.history_panel.refresh()
            )
        )
        self.first_start.addRequested.connect(lambda: self.model_manager().choose_gguf())
        self.first_start.demoRequested.connect(self.install_demo_model)
        self.tuning.modelReady.connect(self.set_model)
        self.pacs.studyOpened.connect(self.open_paths)
        self.pacs_sender.message.connect(lambda text: self.statusBar().showMessage(text, 5000))

        self.actions_by_name: dict[str, QAction] = build_menus(self)
        self.retranslate()
        self._model_changed(None)
        default = self.registry.default
        if default:
            self.controller.set_model(self.registry.get(default))
        self.notice_box: QMessageBox | None = None
        QTimer.singleShot(0, self, self.show_start_notice)  # once the window is up

    # -- text -------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.setWindowTitle("JRadi Desktop")
        self.tabs.setTabText(0, self.tr("レポート"))
        self.tabs.setTabText(1, self.tr("医療QA"))
        self.tabs.setTabText(2, self.tr("履歴"))
        self.tabs.setTabText(3, self.tr("チューニング"))
        self.tabs.setTabText(4, self.tr("PACS"))
        self.tuning.retranslate()
        self.pacs.retranslate()
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

    def show_start_notice(self) -> None:
        """Say once, without blocking, that the history was damaged and moved aside or that
        it is kept in memory only (both languages: the box may come before a switch)."""
        notice = self.history.notice
        if notice is None or self.notice_box is not None:
            return
        self.statusBar().showMessage(notice.message(self.controller.language))
        box = QMessageBox(
            QMessageBox.Icon.Warning, self.tr("履歴データベース"),
            f"{notice.message_ja}\n\n{notice.message_en}", QMessageBox.StandardButton.Ok, self,
        )  # fmt: skip
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.show()
        self.notice_box = box

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
        if loaded:
            self.session.apply_pending_draft()

    @property
    def current(self) -> XrayImage | None:
        """The image shown (the one the report is about)."""
        return self.session.image

    def show_image(self, image: XrayImage) -> None:
        self.session.set_image(image)
        self.report.set_pacs_origin(self.pacs_cache.origin(image.source))
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
        self.session.read_ahead()

    def set_read_ahead(self, enabled: bool) -> None:
        """Turn the read-ahead on or off (モデル menu) and remember it: on a shared or slow
        computer a clinician may not want the image worked on before asking."""
        self.controller.read_ahead_enabled = enabled
        self.settings.setValue("readAhead", enabled)
        self.actions_by_name["read_ahead"].setChecked(enabled)
        if enabled:
            self.session.read_ahead()

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

    # -- lifetime ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.tuning.confirm_close():  # a tuning job runs and the user keeps it
            event.ignore()
            return
        self.report.flush_draft()
        self.session.commit()
        self.controller.cancel()
        self.controller.shutdown()
        self._loader.shutdown(wait=False, cancel_futures=True)
        super().closeEvent(event)


def _cache_limit(settings: QSettings) -> int:
    """The PACS cache's limit in bytes as remembered (the default if unset or unreadable)."""
    try:
        return limit_bytes(float(settings.value(CACHE_LIMIT_KEY, DEFAULT_CACHE_LIMIT / GIB)))
    except (TypeError, ValueError):
        return DEFAULT_CACHE_LIMIT


def _true(value: object) -> bool:
    """A QSettings boolean: a bool, or the string an INI file gives back."""
    return value is True or str(value).lower() == "true"
