"""The JMedLoRA flow: settings → training with a live loss curve (stop, resume from the last
checkpoint) → evaluation on IgakuQA-format questions → GGUF export → 「このモデルを使う」."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QVBoxLayout, QWidget

from jradi_desktop.contract import (
    GGUF_DIR,
    MERGED_DIR,
    PROGRESS,
    RESULT,
    Event,
    GgufExported,
    QAMetrics,
    TrainProgress,
    TrainResult,
    TrainResumed,
)
from jradi_desktop.models import ModelRegistry
from jradi_desktop.ui.tuning._eval_box import EvalBox
from jradi_desktop.ui.tuning._jobs import JobPage, Step, scrolled
from jradi_desktop.ui.tuning._lora_form import LoraForm
from jradi_desktop.ui.tuning._monitor import RunMonitor
from jradi_desktop.ui.tuning._plot import ScorePlot
from jradi_desktop.ui.tuning._process import EngineJob
from jradi_desktop.ui.tuning._workspace import LORA_CONFIG, dump_yaml


class LoraPage(JobPage):
    def __init__(
        self,
        registry: ModelRegistry,
        base: Path | None,
        data: Path | None,
        qa_set: Path | None,
        workspace: Path,
        engine_ok: bool = True,
    ) -> None:
        self.plot = ScorePlot(best=None, line=True)
        super().__init__(RunMonitor(self.plot), registry, engine_ok)
        self.form = LoraForm(base, data, workspace)
        self.workspace: Path | None = None
        self.result: dict[str, Any] | None = None  # the training's result data
        self.evaluation = EvalBox(qa_set)
        results = QWidget()
        result_column = QVBoxLayout(results)
        result_column.addWidget(self.evaluation)
        result_column.addWidget(self.export)
        result_column.addStretch(1)
        self.build_tabs(self.form, scrolled(results))

        self.evaluation.runRequested.connect(self.evaluate)
        self.export.exportRequested.connect(self.export_gguf)
        self.retranslate()

    def retranslate(self) -> None:
        self.set_tab_texts(self.tr("1. 設定"), self.tr("2. 学習"), self.tr("3. 評価と書き出し"))
        self.plot.set_labels(
            self.tr("学習の損失"),
            self.tr("ステップ"),
            self.tr("損失"),
            (self.tr("損失"), ""),
            self.tr("学習が始まるとここに表示されます"),
        )
        self.run_button.setText(self.tr("学習を開始"))
        self.form.retranslate()
        self.monitor.retranslate()
        self.evaluation.retranslate()
        self.export.retranslate()
        self.update_buttons()

    def update_buttons(self) -> None:
        busy = self.running
        ok = self.evaluation.validate()
        self.evaluation.run_button.setEnabled(ok and not busy and self.engine_ok)
        self.export.set_can_export(not busy and self.merged() is not None)
        self.show_run_message(self.form.valid)

    # -- runs -------------------------------------------------------------------------------
    def start(self) -> bool:
        """Write the config into the workspace and train (resuming a stopped run there)."""
        workspace = self.prepare_workspace(self.form, LORA_CONFIG,
                                           lambda: dump_yaml(self.form.config()))  # fmt: skip
        if workspace is None:
            return False
        if workspace != self.workspace:
            self.plot.clear()
            self.monitor.reset()
            self.export.set_exported(None, None)
        self.workspace, self.result = workspace, None
        self.export.set_folder(workspace)
        self.export.name.setText(f"JMedLoRA-{workspace.name}")
        self.steps.setCurrentIndex(1)
        args = ["lora", str(workspace / LORA_CONFIG), "--workspace", str(workspace)]
        return self.run_chain([Step("train", args)])

    def merged(self) -> Path | None:
        if self.workspace is None:
            return None
        merged = self.workspace / MERGED_DIR
        return merged if (merged / "config.json").is_file() else None

    def evaluate(self) -> bool:
        if self.running or not self.evaluation.validate():
            return False
        base = self.workspace or self.form.workspace.path() or Path.cwd()
        out = base / "eval" / "predictions.jsonl"
        args = self.evaluation.arguments(out, self.form.prompt_format.currentText())
        self.steps.setCurrentIndex(1)
        return self.run_chain([Step("eval", args)])

    def export_gguf(self, quantize: str | None = None) -> bool:
        merged = self.merged()
        if self.running or merged is None or self.workspace is None:
            return False
        out = self.workspace / (f"{GGUF_DIR}-{quantize}" if quantize else GGUF_DIR)
        args = ["export-gguf", str(merged), str(out)]
        if quantize:
            args += ["--quantize", quantize]
        self.export.message.show_message(self.tr("書き出しています…"), "info")
        self.steps.setCurrentIndex(1)
        return self.run_chain([Step("export", args)])

    # -- events -----------------------------------------------------------------------------
    def on_event(self, step: Step, event: Event) -> None:
        if step.kind == "train":
            self._plot_training(event)
        super().on_event(step, event)

    def _plot_training(self, event: Event) -> None:
        if point := TrainProgress.from_event(event, PROGRESS):
            self.plot.add_point(int(event.step), float(point.loss))
        if resumed := TrainResumed.from_event(event):
            self.plot.set_points([(x, y) for x, y in self.plot.points if x <= resumed.step])
        if result := TrainResult.from_event(event, RESULT):
            self.plot.set_points((i + 1, loss) for i, loss in enumerate(result.losses or []))

    def on_step_done(self, step: Step, job: EngineJob) -> None:
        data = job.result.data if job.result is not None else {}
        if step.kind == "train":
            self.result = data
            trained = TrainResult.from_data(data)
            if trained is not None and trained.merged:
                self.evaluation.model.set_path(trained.merged)
        elif step.kind == "eval" and (metrics := QAMetrics.from_data(data)):
            self.evaluation.show_metrics(metrics)
        elif step.kind == "export" and (exported := GgufExported.from_data(data)):
            mmproj = exported.mmproj
            self.export.set_exported(Path(exported.model), Path(mmproj) if mmproj else None)

    def on_chain_end(self, state: str) -> None:
        kind = self.step.kind if self.step is not None else ""
        if state == "done" and kind in ("train", "eval", "export"):
            self.steps.setCurrentIndex(2)
        if kind == "export":
            self.show_export_end(self.export, state)
        self.form.validate()  # the workspace may now hold a finished run
