"""The running job as the engineer watches it: state, progress, elapsed and remaining time,
a plot (and the page's table), the log, and stop / resume."""

from __future__ import annotations

import time

from PySide6.QtCore import QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from jradi_desktop.ui.tuning._fields import ERROR_STYLE, INFO_STYLE, OK_STYLE

LOG_LINES = 2000


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class RunMonitor(QWidget):
    """Shows one job at a time; the page calls ``begin`` / ``progress`` / ``log`` / ``end``."""

    stopRequested = Signal()
    resumeRequested = Signal()

    def __init__(self, plot: QWidget, table: QWidget | None = None) -> None:
        super().__init__()
        self.plot = plot
        self.table = table
        self.state_label = QLabel(wordWrap=True)
        font = QFont(self.state_label.font())
        font.setBold(True)
        self.state_label.setFont(font)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%v / %m")
        self.times = QLabel()
        self.error = QLabel(wordWrap=True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setVisible(False)
        self.log_view = QPlainTextEdit(readOnly=True)
        self.log_view.setMaximumBlockCount(LOG_LINES)
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.85))
        self.log_view.setFont(mono)
        self.stop_button = QPushButton()
        self.resume_button = QPushButton()
        self.stop_button.setEnabled(False)
        self.resume_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stopRequested)
        self.resume_button.clicked.connect(self.resumeRequested)

        buttons = QHBoxLayout()
        buttons.addWidget(self.times, 1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.resume_button)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(plot)
        if table is not None:
            splitter.addWidget(table)
        splitter.addWidget(self.log_view)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([260, 220, 120] if table is not None else [300, 140])
        layout = QVBoxLayout(self)
        layout.addWidget(self.state_label)
        layout.addWidget(self.progress_bar)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        layout.addWidget(splitter, 1)

        self._clock = QElapsedTimer()
        self._remaining: tuple[float, float] | None = None  # (seconds, monotonic when said)
        self._ticker = QTimer(self, interval=1000)
        self._ticker.timeout.connect(self._show_times)
        self._state_key = "idle"
        self.retranslate()

    def retranslate(self) -> None:
        self.stop_button.setText(self.tr("停止"))
        self.resume_button.setText(self.tr("再開"))
        self._show_state()
        self._show_times()

    # -- what the page calls ----------------------------------------------------------------
    def begin(self, state: str, total: int = 0) -> None:
        self._state_key = state
        self.error.clear()
        self.error.setVisible(False)
        self.progress_bar.setRange(0, max(total, 0))
        self._remaining = None
        self._clock.start()
        self._ticker.start()
        self.stop_button.setEnabled(True)
        self.resume_button.setEnabled(False)
        self._show_state()
        self._show_times()

    def progress(self, step: int, total: int, remaining_s: float | None = None) -> None:
        if total > 0:
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(min(step, total))
        if remaining_s is not None:
            self._remaining = (float(remaining_s), time.monotonic())
        self._show_times()

    def log(self, text: str) -> None:
        self.log_view.appendPlainText(text)

    def end(self, state: str, can_resume: bool, error: str = "", tail: str = "") -> None:
        """``state``: done, stopped or failed; the error and the log tail are shown."""
        self._state_key = state
        self._ticker.stop()
        self.stop_button.setEnabled(False)
        self.resume_button.setEnabled(can_resume)
        if state == "done":
            self._remaining = (0.0, time.monotonic())
        if error:
            self.error.setText(error)
            self.error.setVisible(True)
        if tail:
            self.log("──── " + self.tr("ログの末尾") + " ────")
            self.log(tail)
        self._show_state()
        self._show_times()

    def reset(self) -> None:
        self._state_key = "idle"
        self.error.setVisible(False)
        self.progress_bar.reset()
        self.log_view.clear()
        self._remaining = None
        self._show_state()

    # -- text -------------------------------------------------------------------------------
    def _show_state(self) -> None:
        texts = {
            "idle": self.tr("待機中"),
            "search": self.tr("探索中…"),
            "train": self.tr("学習中…"),
            "export": self.tr("書き出し中…"),
            "eval": self.tr("評価中…"),
            "history": self.tr("履歴を読み込み中…"),
            "done": self.tr("完了しました"),
            "stopped": self.tr("停止しました（「再開」で続きから実行します）"),
            "failed": self.tr("失敗しました"),
        }
        self.state_label.setText(texts.get(self._state_key, self._state_key))
        style = {"done": OK_STYLE, "failed": ERROR_STYLE}.get(self._state_key, "")
        self.state_label.setStyleSheet(style or INFO_STYLE)

    def _show_times(self) -> None:
        elapsed = self._clock.elapsed() / 1000 if self._clock.isValid() else None
        remaining = None
        if self._remaining is not None:
            seconds, said = self._remaining
            remaining = max(0.0, seconds - (time.monotonic() - said)) if self._ticker.isActive() \
                else seconds  # fmt: skip
        self.times.setText(
            self.tr("経過 %1 ／ 残り 約 %2").replace("%1", duration(elapsed))
            .replace("%2", duration(remaining))
        )  # fmt: skip

    @property
    def state(self) -> str:
        return self._state_key
