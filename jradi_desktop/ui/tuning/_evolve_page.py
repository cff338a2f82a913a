"""The JRadiEvo flow: settings → the search (live trials table and score plot, stop, resume)
→ export of the best model to GGUF → 「このモデルを使う」. A workspace can be reopened to see
its history (read by ``jradi-engine history``: Optuna stays out of the GUI) and resumed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from jradi_desktop.contract import (
    BEST_DIR,
    BEST_MODEL_DIR,
    RESULT,
    STUDY_DB,
    STUDY_NAME,
    BatchDone,
    Event,
    EvolveResult,
    GgufExported,
    History,
    TrialFinished,
    TrialRow,
    TrialStarted,
    trial_texts,
)
from jradi_desktop.models import ModelRegistry
from jradi_desktop.ui.tuning._evolve_form import EvolveForm
from jradi_desktop.ui.tuning._jobs import JobPage, Step
from jradi_desktop.ui.tuning._monitor import RunMonitor
from jradi_desktop.ui.tuning._plot import ScorePlot
from jradi_desktop.ui.tuning._process import EngineJob
from jradi_desktop.ui.tuning._trials import SampleTable, TrialTable, format_params
from jradi_desktop.ui.tuning._workspace import (
    EVOLVE_RECIPE,
    best_export,
    dump_yaml,
    evolve_recipe_of,
    read_wizard_state,
    write_wizard_state,
)


class EvolvePage(JobPage):
    def __init__(self, registry: ModelRegistry, demo_models: Path | None, workspace: Path,
                 engine_ok: bool = True) -> None:  # fmt: skip
        self.plot = ScorePlot(best="max")
        self.table = TrialTable()
        super().__init__(RunMonitor(self.plot, self.table), registry, engine_ok)
        self.form = EvolveForm(demo_models, workspace)
        self.workspace: Path | None = None
        self.n_trials = 0
        self.result: EvolveResult | None = None

        self.open_button = QPushButton()
        self.best_label = QLabel(wordWrap=True)
        self.best_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.samples_label = QLabel()
        self.samples = SampleTable()
        results = QWidget()
        result_column = QVBoxLayout(results)
        result_column.addWidget(self.best_label)
        result_column.addWidget(self.samples_label)
        result_column.addWidget(self.samples, 1)
        result_column.addWidget(self.export)
        self.build_tabs(self.form, results, self.open_button)

        self.open_button.clicked.connect(self._choose_workspace)
        self.export.exportRequested.connect(self.export_best)
        self.retranslate()

    # -- text -------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.set_tab_texts(self.tr("1. 設定"), self.tr("2. 実行"), self.tr("3. 結果"))
        self.table.retranslate()
        self.samples.retranslate()
        self.samples_label.setText(self.tr("最良の試行が書いたレポート（開発データ）"))
        self.plot.set_labels(self.tr("試行ごとのスコア"), self.tr("試行"),
                             self.tr("ROUGE-L（開発データの平均）"),
                             (self.tr("試行のスコア"), self.tr("これまでの最良")),
                             self.tr("試行が終わるとここに表示されます"))  # fmt: skip
        self.run_button.setText(self.tr("探索を開始"))
        self.open_button.setText(self.tr("ワークスペースを開く…"))
        self.form.retranslate()
        self.monitor.retranslate()
        self.export.retranslate()
        self._show_best()
        self.update_buttons()

    def update_buttons(self) -> None:
        busy = self.running
        self.open_button.setEnabled(not busy)
        self.export.set_can_export(not busy and self.complete() > 0)
        self.show_run_message(self.form.valid)

    # -- runs -------------------------------------------------------------------------------
    def _search_step(self) -> Step:
        assert self.workspace is not None
        args = ["evolve", str(self.workspace / EVOLVE_RECIPE), "--workspace", str(self.workspace),
                "--no-export"]  # fmt: skip
        storage = read_wizard_state(self.workspace).get("storage")
        return Step("search", args + (["--storage", storage] if storage else []))

    def start(self) -> bool:
        """Write the recipe into the workspace and run (or resume) the search."""
        workspace = self.prepare_workspace(self.form, EVOLVE_RECIPE,
                                           lambda: dump_yaml(self.form.recipe()))  # fmt: skip
        if workspace is None:
            return False
        write_wizard_state(workspace, storage=self.form.storage(), study=STUDY_NAME)
        known = self.workspace == workspace
        self.workspace, self.n_trials = workspace, self.form.trials.value()
        self.export.set_folder(workspace)
        self.export.name.setText(f"JRadiEvo-{workspace.name}")
        steps = [self._search_step()]
        if not known:
            self._clear()
            if (workspace / STUDY_DB).exists() or self.form.storage():
                steps.insert(0, self._history_step())
        self.steps.setCurrentIndex(1)
        return self.run_chain(steps)

    def _history_step(self) -> Step:
        assert self.workspace is not None
        storage = read_wizard_state(self.workspace).get("storage")
        args = ["history", "--workspace", str(self.workspace), "--study-name", STUDY_NAME]
        args += ["--storage", storage] if storage else []
        return Step("history", args, resumable=False, optional=True)

    def open_workspace(self, workspace: Path) -> bool:
        """Show a workspace's recipe and history; 「再開」 continues its search."""
        if self.running:
            return False
        recipe = evolve_recipe_of(workspace)
        if recipe is None:
            self.run_message.show_message(
                self.tr("このフォルダーには進化的マージの探索がありません: ") + str(workspace)
            )
            return False
        workspace = workspace.resolve()
        state = read_wizard_state(workspace)
        self.form.load(recipe, workspace, state.get("storage"))
        self._clear()
        self.workspace = workspace
        self.n_trials = int((recipe.get("evolve") or {}).get("n_trials", 0))
        self.export.set_folder(workspace)
        self.export.name.setText(f"JRadiEvo-{workspace.name}")
        self._load_best()
        self.steps.setCurrentIndex(1)
        return self.run_chain([self._history_step()])

    def _choose_workspace(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("ワークスペースを開く"))
        if folder:
            self.open_workspace(Path(folder))

    def export_best(self, quantize: str | None = None) -> bool:
        """Write the best trial's model (HF + GGUF), then a quantised GGUF when asked."""
        if self.running or self.workspace is None or self.complete() == 0:
            return False
        search = self._search_step()
        args = [a for a in search.args if a != "--no-export"]
        args[4:4] = ["--n-trials", str(self.complete())]  # no more trials: export the best
        steps = [Step("export", args)]
        if quantize:
            best = self.workspace / BEST_DIR
            steps.append(Step("quantize", ["export-gguf", str(best / BEST_MODEL_DIR),
                                           str(best / f"gguf-{quantize}"), "--quantize",
                                           quantize]))  # fmt: skip
        self.export.message.show_message(self.tr("書き出しています…"), "info")
        self.steps.setCurrentIndex(1)
        return self.run_chain(steps)

    def complete(self) -> int:
        return self.table.complete()

    def best_trial(self) -> dict[str, Any] | None:
        return self.table.best()

    # -- events -----------------------------------------------------------------------------
    def on_event(self, step: Step, event: Event) -> None:
        if step.kind == "history":
            if history := History.from_event(event, RESULT):
                self._fill_history(history.trials)
            return
        if started := TrialStarted.from_event(event):
            self._set_trial(int(started.trial), state="RUNNING", params=started.params or {})
        elif finished := TrialFinished.from_event(event):
            self._set_trial(int(finished.trial), state=finished.state, score=finished.score,
                            seconds=finished.seconds)  # fmt: skip
        elif BatchDone.from_event(event):
            return  # too many to log
        if step.kind == "search" and (result := EvolveResult.from_event(event, RESULT)):
            self.result = result
        super().on_event(step, event)

    def on_step_done(self, step: Step, job: EngineJob) -> None:
        exported = GgufExported.from_event(job.result) if job.result else None
        if step.kind == "export":
            self._load_best()
        elif step.kind == "quantize" and exported:
            mmproj = exported.mmproj
            self.export.set_exported(Path(exported.model), Path(mmproj) if mmproj else None)
        elif step.kind == "history":
            self.monitor.progress(self.complete(), self.n_trials)

    def on_chain_end(self, state: str) -> None:
        if self.step is not None and self.step.kind in ("export", "quantize"):
            self.show_export_end(self.export, state)
            if state == "done":
                self.steps.setCurrentIndex(2)
        elif (
            self.step is not None
            and self.step.kind == "history"
            and state == "done"
            and self.complete() < self.n_trials
        ):  # an unfinished study: offer 「再開」
            self._interrupted = [self._search_step()]
            self.monitor.end("stopped", True)
        self._show_best()
        self.form.validate()  # the workspace now holds a study

    def resume(self) -> None:
        if not self._interrupted and self.workspace is not None:
            self._interrupted = [self._search_step()]
        super().resume()

    # -- table and plot ---------------------------------------------------------------------
    def _clear(self) -> None:
        self.result = None
        self.table.clear_trials()
        self.plot.clear()
        self.monitor.reset()
        self.export.set_exported(None, None)
        self.export.message.show_message("")

    def _set_trial(self, number: int, **values: Any) -> None:
        trial = self.table.set_trial(number, **values)
        if trial.get("state") == "COMPLETE" and trial.get("score") is not None:
            self.plot.add_point(number, float(trial["score"]))
            self._show_best()

    def _fill_history(self, rows: list[TrialRow]) -> None:
        self.table.fill(rows)
        self.plot.set_points(
            (t["trial"], t["score"]) for t in self.table.trials.values()
            if t.get("state") == "COMPLETE" and t.get("score") is not None
        )  # fmt: skip
        self._show_best()

    def _show_best(self) -> None:
        self.table.mark_best()
        best = self.best_trial()
        if best is None or self.workspace is None:
            self.best_label.setText(self.tr("まだ完了した試行がありません。"))
            self.samples.load(None)
            return
        text = self.tr("最良: 試行 %1、ROUGE-L %2（完了 %3 / %4 試行）")
        text = text.replace("%1", str(best["trial"])).replace("%2", f"{best['score']:.4f}")
        text = text.replace("%3", str(self.complete())).replace("%4", str(self.n_trials))
        self.best_label.setText(text + "\n" + format_params(best.get("params") or {}))
        self.samples.load(trial_texts(self.workspace, best["trial"]))

    def _load_best(self) -> None:
        if self.workspace is None:
            return
        files = best_export(self.workspace)
        if files is not None and files.gguf:
            mmproj = files.mmproj
            self.export.set_exported(Path(files.gguf), Path(mmproj) if mmproj else None)
