"""履歴: past reports, searchable; opening one brings back its image and final text."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHeaderView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from jradi_desktop.store import History, ReportRecord


class HistoryPanel(QWidget):
    openRequested = Signal(object)  # ReportRecord

    def __init__(self, history: History, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.records: list[ReportRecord] = []
        self.search = QLineEdit()
        self.search.setClearButtonEnabled(True)
        self.table = QTableWidget(0, 4)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.table)
        self.search.textChanged.connect(self.refresh)
        self.table.cellDoubleClicked.connect(
            lambda row, _: self.openRequested.emit(self.records[row])
        )
        self.retranslate()

    def retranslate(self) -> None:
        self.search.setPlaceholderText(
            self.tr("レポートを検索（所見・印象・臨床情報・ファイル名）")
        )
        self.table.setHorizontalHeaderLabels(
            [self.tr("日時"), self.tr("画像"), self.tr("モデル"), self.tr("レポート")]
        )

    def refresh(self) -> None:
        self.records = self.history.search_reports(self.search.text().strip())
        self.table.setRowCount(len(self.records))
        for row, record in enumerate(self.records):
            text = record.final_text.replace("\n", " ")
            values = [record.updated_at[:16].replace("T", " "), Path(record.image_path).name,
                      record.model_name, text]  # fmt: skip
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(record.final_text if column == 3 else record.image_path)
                item.setData(Qt.ItemDataRole.UserRole, record.id)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
