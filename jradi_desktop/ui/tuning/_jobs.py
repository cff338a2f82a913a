"""What both flows share: the three tabs (settings, run, results), a chain of engine jobs run
one after another, stop, resume (the same commands again: the engine continues the study or
the training), the monitor's updates, and the messages under the form and the export panel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from jradi_desktop.atomic_file import replace_atomically
from jradi_desktop.contract import KINDS, PROGRESS, Event
from jradi_desktop.models import ModelRegistry
from jradi_desktop.ui.tuning._export import ExportPanel
from jradi_desktop.ui.tuning._fields import Message
from jradi_desktop.ui.tuning._monitor import RunMonitor
from jradi_desktop.ui.tuning._process import EngineJob


def scrolled(widget: QWidget) -> QScrollArea:
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(widget)
    return scroll


@dataclass(frozen=True)
class Step:
    """One child process: its kind (search, train, export, eval, history) and arguments."""

    kind: str
    args: list[str] = field(default_factory=list)
    resumable: bool = True  # whether 「再開」 runs it again after a stop
    optional: bool = False  # a failure is logged and the chain goes on


class JobPage(QWidget):
    """A page that runs at most one engine job at a time and shows it in ``self.monitor``.

    Its three tabs are built by ``build_tabs``: 1. the settings (the form, scrolled, a message
    and ``run_button``), 2. the monitor, 3. the results.
    """

    jobStateChanged = Signal(bool)  # a job started (True) or the chain ended (False)
    modelReady = Signal(object)  # a ModelSpec the export registered, for the app to load

    def __init__(
        self, monitor: RunMonitor, registry: ModelRegistry, engine_ok: bool = True
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self.export = ExportPanel(registry)  # on the results tab
        self.export.modelReady.connect(self.modelReady)
        self.engine_ok = engine_ok
        self.job: EngineJob | None = None
        self.step: Step | None = None
        self._queue: list[Step] = []
        self._interrupted: list[Step] = []  # what 「再開」 runs again
        self.run_button = QPushButton()
        self.run_message = Message()
        self.steps = QTabWidget()
        monitor.stopRequested.connect(self.stop)
        monitor.resumeRequested.connect(self.resume)

    def build_tabs(self, form: QWidget, results: QWidget, *buttons: QPushButton) -> None:
        """Lay out the three tabs; ``buttons`` go left of ``run_button`` under the form (a
        form with a ``validityChanged`` signal: the buttons follow it)."""
        form.validityChanged.connect(lambda _: self.update_buttons())
        bar = QHBoxLayout()
        for button in buttons:
            bar.addWidget(button)
        bar.addStretch(1)
        bar.addWidget(self.run_button)
        settings = QWidget()
        column = QVBoxLayout(settings)
        column.addWidget(scrolled(form), 1)
        column.addWidget(self.run_message)
        column.addLayout(bar)
        self.steps.addTab(settings, "")
        self.steps.addTab(self.monitor, "")
        self.steps.addTab(results, "")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.steps)
        self.run_button.clicked.connect(self.start)
        self.jobStateChanged.connect(lambda _: self.update_buttons())

    def set_tab_texts(self, *texts: str) -> None:
        for index, text in enumerate(texts):
            self.steps.setTabText(index, text)

    def update_buttons(self) -> None:
        """Enable what may run now; say under the form why the run button is off."""

    def show_run_message(self, form_valid: bool) -> None:
        """Enable ``run_button``; the message: no engine, fields to fix, or nothing."""
        self.run_button.setEnabled(self.engine_ok and form_valid and not self.running)
        if not self.engine_ok:
            self.run_message.show_message(
                self.tr(
                    "この環境にはチューニングエンジン（torch など）がありません。エンジン付きでインストールしてください。"  # noqa: E501
                )
            )
        elif not self.running and not form_valid:
            self.run_message.show_message(self.tr("赤字の項目を直すと開始できます。"), "warning")
        else:
            self.run_message.show_message("")

    def start(self) -> bool:
        """Start the flow's main job (the run button)."""
        raise NotImplementedError

    def prepare_workspace(self, form: Any, name: str, text: Callable[[], str]) -> Path | None:
        """The ``form``'s workspace, created, with the job's recipe or config (``name``, its
        ``text``) written into it; None when no run can start (one runs, the engine is
        missing, the form is not valid)."""
        if self.running or not self.engine_ok or not form.validate():
            return None
        workspace = form.workspace.path()
        assert workspace is not None  # a valid form has one
        workspace = workspace.resolve()
        workspace.mkdir(parents=True, exist_ok=True)
        replace_atomically(workspace / name, text(), private=False)
        return workspace

    def show_export_end(self, export: ExportPanel, state: str) -> None:
        """The export panel's message once an export chain ended (done, stopped, failed)."""
        text = {
            "done": self.tr("書き出しました。"),
            "stopped": self.tr("中止しました。"),
            "failed": self.tr("書き出せませんでした（「%1」のログを見てください）。").replace(
                "%1", self.steps.tabText(1)
            ),
        }
        export.message.show_message(text[state], "ok" if state == "done" else "error")

    # -- public -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def running_job(self) -> str | None:
        """What runs now, in words (None when nothing does)."""
        if not self.running or self.step is None:
            return None
        return self.describe(self.step.kind)

    def describe(self, kind: str) -> str:
        return {
            "search": self.tr("進化的マージの探索"),
            "train": self.tr("LoRA 学習"),
            "export": self.tr("書き出し"),
            "quantize": self.tr("書き出し"),
            "eval": self.tr("評価"),
            "history": self.tr("履歴の読み込み"),
        }.get(kind, kind)

    def run_chain(self, steps: list[Step]) -> bool:
        if self.running or not steps:
            return False
        self._queue = list(steps)
        self._next()
        return True

    def stop(self) -> None:
        """Stop the running job (SIGINT, then kill); the rest of the chain is dropped."""
        if self.running and self.job is not None:
            self.monitor.log(self.tr("停止しています…"))
            self.job.cancel()

    def resume(self) -> None:
        """Run the interrupted steps again: the engine continues where it stopped."""
        steps, self._interrupted = self._interrupted, []
        self.run_chain(steps)

    def can_resume(self) -> bool:
        return bool(self._interrupted)

    def shutdown(self, msecs: int = 5000) -> None:
        """Stop the job and wait for it (closing the application)."""
        self._queue = []
        if self.running and self.job is not None:
            self.job.stop_now(msecs)

    # -- hooks ------------------------------------------------------------------------------
    def on_event(self, step: Step, event: Event) -> None:
        """Each event of ``step``'s job (the default logs its message)."""
        if event.message and event.kind in KINDS:
            self.monitor.log(event.message)
        if event.kind == PROGRESS:
            self.monitor.progress(int(event.step), int(event.total), event.remaining_s)

    def on_step_done(self, step: Step, job: EngineJob) -> None:
        """``step`` ended with exit code 0."""

    def on_chain_end(self, state: str) -> None:
        """The chain ended: done, stopped or failed."""

    def monitor_state(self, kind: str) -> str:
        return {"quantize": "export"}.get(kind, kind)

    # -- internals --------------------------------------------------------------------------
    def _next(self) -> None:
        step = self._queue.pop(0)
        self.step = step
        if self.job is not None:
            self.job.deleteLater()  # ended: its signals were delivered
        job = EngineJob(step.args, self)
        job.event.connect(lambda event: self.on_event(step, event))
        job.finished.connect(lambda code: self._finished(step, job, code))
        self.job = job
        if step.kind != "history" or self.monitor.state in ("idle", "done", "stopped", "failed"):
            self.monitor.begin(self.monitor_state(step.kind))
        self.monitor.log("$ " + self.command_text(job))
        job.start()
        self.jobStateChanged.emit(True)

    @staticmethod
    def command_text(job: EngineJob) -> str:
        """``jradi-engine ARGS`` as a person would type it (from source or frozen)."""
        args = job.arguments
        if args[:2] == ["-m", "engine.cli"]:
            args = args[2:]
        return "jradi-engine " + " ".join(a for a in args if a not in ("--events", "jsonl"))

    def _finished(self, step: Step, job: EngineJob, code: int) -> None:
        if job is not self.job:
            return
        if job.cancelled:
            self._interrupted = [step, *self._queue] if step.resumable else []
            self._queue = []
            self.monitor.end("stopped", self.can_resume())
            self._end("stopped")
        elif code != 0 and step.optional and self._queue:
            self.monitor.log(job.log_tail())
            self._next()
        elif code != 0:
            self._interrupted = [step, *self._queue] if step.resumable else []
            self._queue = []
            error = job.error_summary() or self.tr(
                "ジョブが異常終了しました（終了コード %1）。"
            ).replace("%1", str(code))
            self.monitor.end("failed", self.can_resume(), error, job.log_tail())
            self._end("failed")
        else:
            self.on_step_done(step, job)
            if self._queue:
                self._next()
            else:
                self._interrupted = []
                self.monitor.end("done", False)
                self._end("done")

    def _end(self, state: str) -> None:
        self.on_chain_end(state)
        self.jobStateChanged.emit(False)
