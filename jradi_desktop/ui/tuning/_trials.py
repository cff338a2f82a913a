"""The search's tables: one row per trial (live from the events, or a study's history), and the
best trial's generated reports beside their references (``trials/NNNNN.jsonl``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from jradi_desktop.contract import TrialRow, TrialText, group_params

NUMBER, STATE, SCORE, SECONDS, PARAMS = range(5)
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
SYMBOLS = {"lambda": "λ"}  # how a family is written for people


def format_params(params: dict[str, float]) -> str:
    """``p=0.550 k=[0.72 0.60] w=[0.65 0.44] λ=0.770`` in the search's order."""
    parts = []
    for family, value in group_params(params).items():
        name = SYMBOLS.get(family, family)
        if isinstance(value, list):
            parts.append(f"{name}=[" + " ".join(f"{v:.2f}" for v in value) + "]")
        else:
            parts.append(f"{name}={value:.3f}")
    return " ".join(parts)


def _table(table: QTableWidget) -> None:
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setWordWrap(False)


class TrialTable(QTableWidget):
    """Trials by number: state, ROUGE-L, seconds, parameters; the best one in bold."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 5, parent)
        _table(self)
        header = self.horizontalHeader()
        for column in range(PARAMS):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.trials: dict[int, dict[str, Any]] = {}
        self.rows: dict[int, int] = {}
        self._best: int | None = None
        self.retranslate()

    def retranslate(self) -> None:
        self.setHorizontalHeaderLabels(
            [self.tr("試行"), self.tr("状態"), "ROUGE-L", self.tr("秒"), self.tr("パラメータ")]
        )
        for trial in self.trials.values():
            self._show(trial)

    def state_text(self, state: str) -> str:
        return {
            "COMPLETE": self.tr("完了"),
            "RUNNING": self.tr("実行中"),
            "FAIL": self.tr("失敗"),
            "PRUNED": self.tr("打ち切り"),
            "WAITING": self.tr("待機中"),
        }.get(state, state)

    def clear_trials(self) -> None:
        self.trials, self.rows, self._best = {}, {}, None
        self.setRowCount(0)

    def set_trial(self, number: int, **values: Any) -> dict[str, Any]:
        trial = self.trials.setdefault(number, {"trial": number})
        trial.update({k: v for k, v in values.items() if v is not None or k == "score"})
        if number not in self.rows:
            self.rows[number] = self.rowCount()
            self.insertRow(self.rowCount())
        self._show(trial)
        self.scrollToItem(self.item(self.rows[number], NUMBER))
        return trial

    def fill(self, rows: list[TrialRow]) -> None:
        """A study's history (``jradi-engine history``), without the live ones."""
        self.setUpdatesEnabled(False)
        for row in sorted(rows, key=lambda r: r.trial):
            if row.trial in self.trials:
                continue
            self.set_trial(int(row.trial), state=row.state, score=row.score, seconds=row.seconds,
                           params=row.params or {})  # fmt: skip
        self.setUpdatesEnabled(True)

    def _show(self, trial: dict[str, Any]) -> None:
        row = self.rows[trial["trial"]]
        score, seconds = trial.get("score"), trial.get("seconds")
        cells = [
            str(trial["trial"]),
            self.state_text(str(trial.get("state", ""))),
            f"{score:.4f}" if isinstance(score, int | float) else "",
            f"{seconds:.1f}" if isinstance(seconds, int | float) else "",
            format_params(trial.get("params") or {}),
        ]
        for column, text in enumerate(cells):
            item = self.item(row, column)
            if item is None:
                item = QTableWidgetItem()
                if column in (NUMBER, SCORE, SECONDS):
                    item.setTextAlignment(RIGHT)
                self.setItem(row, column, item)
            item.setText(text)

    def complete(self) -> int:
        return sum(t.get("state") == "COMPLETE" for t in self.trials.values())

    def best(self) -> dict[str, Any] | None:
        done = [t for t in self.trials.values()
                if t.get("state") == "COMPLETE" and t.get("score") is not None]  # fmt: skip
        return max(done, key=lambda t: (t["score"], -t["trial"])) if done else None

    def mark_best(self) -> None:
        best = self.best()
        number = best["trial"] if best else None
        if number == self._best:
            return
        for trial, bold in ((self._best, False), (number, True)):
            if trial is None or trial not in self.rows:
                continue
            for column in range(self.columnCount()):
                item = self.item(self.rows[trial], column)
                if item is not None:
                    font = QFont(item.font())
                    font.setBold(bold)
                    item.setFont(font)
        self._best = number


class SampleTable(QTableWidget):
    """A trial's dev reports: image, reference findings, the generated text, ROUGE-L."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        _table(self)
        self.setWordWrap(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.source: Path | None = None
        self.retranslate()

    def retranslate(self) -> None:
        self.setHorizontalHeaderLabels(
            [self.tr("画像"), self.tr("参照（所見）"), self.tr("生成された所見"), "ROUGE-L"]
        )

    def load(self, path: Path | None) -> None:
        if path == self.source:
            return
        self.source = path
        records: list[TrialText] = []
        try:
            text = path.read_text(encoding="utf-8") if path is not None else ""
            lines = [json.loads(line) for line in text.splitlines() if line.strip()]
            found = (TrialText.from_data(x) for x in lines if isinstance(x, dict))
            records = [r for r in found if r is not None]
        except (OSError, ValueError):
            records = []
        self.setRowCount(len(records))
        for row, record in enumerate(records):
            score = record.rouge_l
            cells = [Path(str(record.image)).name, str(record.reference), str(record.prediction),
                     f"{score:.4f}" if isinstance(score, int | float) else ""]  # fmt: skip
            for column, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                if column == 3:
                    item.setTextAlignment(RIGHT)
                self.setItem(row, column, item)
        self.resizeRowsToContents()
