"""The PACS tab: search a PACS entry's studies (C-FIND) and open one in the viewer.

A double-click retrieves the study (C-GET, or C-MOVE for an entry with a receiving port)
into the data folder's cache (:class:`~jradi_desktop.pacs.StudyCache`: whole studies only,
least recently used evicted) with progress and Stop, then hands its images to the window as
a multi-file drop; reports
(SR) in the study are left out with a note. Every request runs as a :class:`PacsJob`, so the
window stays responsive for as long as the PACS takes (each step is bounded by its timeout).
「PACS の設定…」 opens :class:`PacsEntriesDialog` to register, edit and test the entries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from jradi_desktop.errors import JRadiError
from jradi_desktop.pacs import CachedStudy, PacsRegistry, StudyCache, StudyMatch, find_studies
from jradi_desktop.ui.generation import error_text
from jradi_desktop.ui.i18n import current_language
from jradi_desktop.ui.pacs_entries_dialog import PacsEntriesDialog
from jradi_desktop.ui.pacs_job import PacsJob
from jradi_desktop.ui.viewer import display_date, display_name
from jradi_desktop.ui.widgets import row

COLUMNS = 7


class PacsPanel(QWidget):
    studyOpened = Signal(object)  # list[Path]: the retrieved study's images, for the viewer
    cacheLimitChanged = Signal(int)  # bytes, set in 「PACS の設定」 (the window remembers it)

    def __init__(
        self, registry: PacsRegistry, cache: StudyCache, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.cache = cache
        self.studies: list[StudyMatch] = []
        self.job: PacsJob | None = None

        self.entry_box = QComboBox()
        self.patient_id = QLineEdit()
        self.accession = QLineEdit()
        self.use_dates = QCheckBox()
        today = QDate.currentDate()
        self.date_from = QDateEdit(today.addDays(-30), calendarPopup=True, enabled=False)
        self.date_to = QDateEdit(today, calendarPopup=True, enabled=False)
        for edit in (self.date_from, self.date_to):
            edit.setDisplayFormat("yyyy/MM/dd")
        self.use_dates.toggled.connect(self.date_from.setEnabled)
        self.use_dates.toggled.connect(self.date_to.setEnabled)
        self.modalities = {m: QCheckBox(m, checked=True) for m in ("CR", "DX")}
        self.search_button = QPushButton()
        self.stop_button = QPushButton(enabled=False)
        self.settings_button = QPushButton()
        self.table = QTableWidget(0, COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        self.progress = QProgressBar(visible=False)
        self.status = QLabel(wordWrap=True)

        self.labels = [QLabel() for _ in range(4)]  # PACS, patient ID, accession, modality
        form = QFormLayout()
        form.addRow(self.labels[0], self.entry_box)
        form.addRow(self.labels[1], self.patient_id)
        form.addRow(self.labels[2], self.accession)
        form.addRow(self.use_dates, row(self.date_from, QLabel("–"), self.date_to, None))
        form.addRow(self.labels[3], row(*self.modalities.values(), None))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row(self.search_button, self.stop_button, None, self.settings_button))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)

        self.search_button.clicked.connect(self.search)
        for edit in (self.patient_id, self.accession):
            edit.returnPressed.connect(self.search)
        self.stop_button.clicked.connect(self.stop)
        self.settings_button.clicked.connect(self.edit_entries)
        self.table.cellDoubleClicked.connect(lambda r, _: self.retrieve(r))
        self.retranslate()
        self.refresh_entries()

    # -- text -------------------------------------------------------------------------------
    def retranslate(self) -> None:
        texts = [self.tr("PACS"), self.tr("患者ID"), self.tr("受付番号"), self.tr("モダリティ")]
        for label, text in zip(self.labels, texts, strict=True):
            label.setText(text)
        self.use_dates.setText(self.tr("検査日"))
        self.patient_id.setPlaceholderText(self.tr("空欄ですべて"))
        self.accession.setPlaceholderText(self.tr("空欄ですべて"))
        self.search_button.setText(self.tr("検索"))
        self.stop_button.setText(self.tr("停止"))
        self.settings_button.setText(self.tr("PACS の設定…"))
        self.settings_button.setToolTip(self.tr("PACS の登録・編集・削除と接続確認"))
        self.table.setHorizontalHeaderLabels([
            self.tr("患者名"), self.tr("患者ID"), self.tr("検査日"), self.tr("モダリティ"),
            self.tr("シリーズ"), self.tr("画像"), self.tr("検査の説明"),
        ])  # fmt: skip
        self.table.setToolTip(self.tr("ダブルクリックで取得してビューアに表示します"))
        if not self.entry_box.count():
            self._say(self._no_entries())

    def _no_entries(self) -> str:
        return self.tr(
            "PACS が登録されていません。「PACS の設定…」で登録してください"
            "（コマンドでは jradi pacs add）。"
        )

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #b02a37" if error else "color: gray")
        self.status.setText(text)

    # -- entries ----------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        self.refresh_entries()  # an entry added with `jradi pacs add` meanwhile
        super().showEvent(event)

    def edit_entries(self) -> None:
        """The 「PACS の設定」 dialog (modal); the entries are re-read when it closes."""
        dialog = PacsEntriesDialog(self.registry, self, cache=self.cache)
        dialog.cache_box.limitChanged.connect(self.cacheLimitChanged)
        dialog.exec()
        dialog.deleteLater()
        self.refresh_entries()

    def refresh_entries(self) -> None:
        current = self.entry_box.currentText()
        try:
            names = self.registry.names()
        except JRadiError as exc:
            names = []
            self._say(error_text(exc, current_language()), error=True)
        self.entry_box.clear()
        self.entry_box.addItems(names)
        if current in names:
            self.entry_box.setCurrentText(current)
        if names and self.status.text() == self._no_entries():
            self._say("")  # registered meanwhile
        elif not names and not self.status.text():
            self._say(self._no_entries())

    def _entry(self) -> Any:
        name = self.entry_box.currentText()
        if not name:
            self._say(self._no_entries(), error=True)
            return None
        try:
            return self.registry.get(name)
        except JRadiError as exc:
            self._say(error_text(exc, current_language()), error=True)
            return None

    # -- jobs -------------------------------------------------------------------------------
    def _start(self, job: PacsJob, stoppable: bool) -> None:
        job.failed.connect(self._failed)
        self.job = job
        self.search_button.setEnabled(False)
        self.table.setEnabled(False)
        self.stop_button.setEnabled(stoppable)
        job.start()

    def _idle(self) -> None:
        self.job = None
        self.search_button.setEnabled(True)
        self.table.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.progress.setVisible(False)

    def _failed(self, exc: BaseException) -> None:
        self._idle()
        self._say(error_text(exc, current_language()), error=True)

    def stop(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self._say(self.tr("停止しています…"))

    # -- search -----------------------------------------------------------------------------
    def query(self) -> dict[str, Any]:
        """The search fields as :func:`~jradi_desktop.pacs.find_studies` keywords."""
        date = None
        if self.use_dates.isChecked():
            first, last = (d.date().toString("yyyyMMdd") for d in (self.date_from, self.date_to))
            date = f"{first}-{last}"
        chosen = [m for m, box in self.modalities.items() if box.isChecked()]
        return {
            "patient_id": self.patient_id.text().strip() or None,
            "accession": self.accession.text().strip() or None,
            "date": date,
            "modalities": chosen or None,
        }

    def search(self) -> None:
        entry = self._entry()
        if entry is None or self.job is not None:
            return
        query = self.query()
        job = PacsJob("find", lambda _progress, _stop: find_studies(entry, **query), self)
        job.finished.connect(self._found)
        self._say(self.tr("検索中…（%1）").replace("%1", entry.name))
        self._start(job, stoppable=False)

    def _found(self, studies: list[StudyMatch]) -> None:
        self._idle()
        self.studies = sorted(studies, key=lambda s: s.study_date, reverse=True)  # newest first
        self.table.setRowCount(len(studies))
        for index, study in enumerate(self.studies):
            values = [
                display_name(study.patient_name), study.patient_id,
                display_date(study.study_date), "/".join(study.modalities),
                "" if study.series is None else str(study.series),
                "" if study.instances is None else str(study.instances), study.description,
            ]  # fmt: skip
            for column, value in enumerate(values):
                self.table.setItem(index, column, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        self._say(self.tr("%1 件の検査が見つかりました").replace("%1", str(len(studies))))

    # -- retrieve ---------------------------------------------------------------------------
    def retrieve(self, index: int) -> None:
        """Open study ``index`` of the list: from the cache, else retrieved (the entry's way)."""
        entry = self._entry()
        if entry is None or self.job is not None or not 0 <= index < len(self.studies):
            return
        uid = self.studies[index].study_uid
        cache = self.cache

        def request(progress: Any, stop: Any) -> tuple[CachedStudy | None, list[Path], ...]:
            study = cache.lookup(uid) or cache.retrieve(entry, uid, progress, stop)
            return (None, [], []) if study is None else (study, *study.split())

        job = PacsJob("get", request, self)
        job.progress.connect(self._progressed)
        job.finished.connect(self._retrieved)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self._say(self.tr("取得中…（%1）").replace("%1", entry.name))
        self._start(job, stoppable=True)

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self._say(self.tr("取得中… %1/%2").replace("%1", str(done)).replace("%2", str(total)))

    def _retrieved(self, outcome: tuple[CachedStudy | None, list[Path], list[Path]]) -> None:
        self._idle()
        study, images, others = outcome
        if study is None:
            self._say(self.tr("取得を中止しました（キャッシュには何も残していません）"))
            return
        notes = []
        if others:
            notes.append(self.tr("画像ではないもの %1 件（レポートなど）は表示しません")
                         .replace("%1", str(len(others))))  # fmt: skip
        if study.failed:
            notes.append(self.tr("%1 件は PACS から受け取れませんでした")
                         .replace("%1", str(study.failed)))  # fmt: skip
        text = self.tr("画像 %1 枚を開きました").replace("%1", str(len(images)))
        if not images:
            text = self.tr("この検査には表示できる画像がありません")
        self._say("。".join([text, *notes]) if current_language() == "ja"
                  else ". ".join([text, *notes]), error=not images)  # fmt: skip
        if images:
            self.studyOpened.emit(images)
