"""The tuning wizard, driven through its real widgets (offscreen) with real engine child
processes on the tiny demo models: evolve and LoRA end to end (stop, resume, export, use),
input errors beside the fields, a crashing job, and closing while a job runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from engine.demo_data import write_demo_dev_set
from jradi_desktop.inference import GenerationParams, InferenceWorker
from jradi_desktop.models import ModelRegistry
from jradi_desktop.pipeline import generate_report
from jradi_desktop.ui.tuning import EngineJob, Step, TuningWidget
from jradi_desktop.ui.tuning._evolve_page import EvolvePage
from jradi_desktop.ui.tuning._process import CRASHED

pytestmark = [
    pytest.mark.gui,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing`:FutureWarning"),
]
ROOT = Path(__file__).resolve().parents[1]
MINUTE = 60_000


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "models.json")


@pytest.fixture
def wizard(qtbot, registry, demo_dir, tmp_path):
    widget = TuningWidget(registry, demo_models=demo_dir, workspace_root=tmp_path / "tuning")
    qtbot.addWidget(widget)
    widget.resize(900, 1000)
    widget.show()
    yield widget
    widget.shutdown(3000)


def wait_idle(qtbot, page, timeout: int = 2 * MINUTE) -> None:
    qtbot.waitUntil(lambda: not page.running, timeout=timeout)


def log_text(page) -> str:
    return page.monitor.log_view.toPlainText()


def fill_evolve(form, dev: Path, workspace: Path, trials: int = 4) -> None:
    form.data.set_path(dev)
    form.trials.setValue(trials)
    form.sampler.setCurrentIndex(form.sampler.findData("tpe"))
    form.max_new_tokens.setValue(32)  # long enough for a trial to be caught running
    form.batch_size.setValue(4)
    form.device.setCurrentText("cpu")
    form.workspace.set_path(workspace)
    assert form.validate(), [f.message.text() for f in (form.data, form.workspace)]


def test_evolution_runs_stops_resumes_exports_and_becomes_the_apps_model(
    qtbot, wizard, registry, demo_dir, tmp_path
):
    page = wizard.evolve
    assert [f.text() for f in page.form.model_fields()] == [
        str(demo_dir / m) for m in ("vlm", "med-a", "med-b", "ja")
    ]  # pre-filled with the demo models
    dev = write_demo_dev_set(tmp_path / "dev", n=4)
    workspace = tmp_path / "evolve-ws"
    fill_evolve(page.form, dev, workspace, trials=6)
    assert page.run_button.isEnabled()
    assert page.form.preview.rows and page.form.preview.text.toPlainText().startswith("所見")

    page.run_button.click()
    assert wizard.running_job() == "進化的マージの探索"
    qtbot.waitUntil(lambda: page.complete() >= 1, timeout=2 * MINUTE)
    page.monitor.stop_button.click()
    wait_idle(qtbot, page)
    assert page.monitor.state == "stopped" and page.monitor.resume_button.isEnabled()
    stopped_at = page.complete()
    assert 1 <= stopped_at < 6
    assert page.table.item(0, 2).text() and page.table.item(0, 4).text().startswith("p=")
    recipe = (workspace / "evolve_recipe.yaml").read_text(encoding="utf-8")
    assert "sampler: tpe" in recipe and "max_new_tokens: 32" in recipe

    page.monitor.resume_button.click()  # the same command: the engine resumes the study
    wait_idle(qtbot, page)
    assert page.monitor.state == "done", log_text(page)
    assert f"{stopped_at} of 6 trials complete" in log_text(page)
    assert page.complete() == 6 and len(page.plot.points) == 6
    best = page.best_trial()
    assert best is not None and page.plot.best_line()[-1] == pytest.approx(best["score"])
    assert "ROUGE-L" in page.best_label.text()

    # reopening the workspace shows its history (read by a child process)
    other = EvolvePage(registry, None, tmp_path / "unused")
    qtbot.addWidget(other)
    assert other.open_workspace(workspace)
    wait_idle(qtbot, other)
    assert other.complete() == 6 and other.form.data.text() == str(dev)
    assert other.form.trials.value() == 6 and not other.monitor.resume_button.isEnabled()

    page.export.quantize.setCurrentText("Q8_0")
    page.export.export_button.click()
    wait_idle(qtbot, page)
    assert page.monitor.state == "done", log_text(page)
    gguf = workspace / "best" / "gguf-Q8_0" / "model.gguf"
    assert page.export.gguf == gguf and gguf.is_file()
    assert page.export.mmproj is not None and page.export.mmproj.is_file()
    assert (workspace / "best" / "model" / "jradi_recipe.yaml").is_file()

    with qtbot.waitSignal(wizard.modelReady) as ready:
        page.export.use_button.click()
    spec = ready.args[0]
    assert registry.default == spec.name and registry.get(spec.name).path == gguf
    assert ModelRegistry(registry.path).get(spec.name).mmproj == page.export.mmproj  # saved
    with InferenceWorker(spec) as worker:
        report = generate_report(worker, dev.parent / "images" / "cxr_000.png",
                                 model_name=spec.name, params=GenerationParams(8))  # fmt: skip
    assert report.model == spec.name and report.text


def test_lora_trains_stops_resumes_evaluates_exports_and_registers(
    qtbot, wizard, registry, monkeypatch, tmp_path
):
    wizard.show_flow("lora")
    page = wizard.lora
    form = page.form
    assert form.data.text().endswith("instructions_ja.jsonl") and form.instructions.count == 30
    assert form.preview.rowCount() == 5
    assert (form.r.value(), form.alpha.value(), form.dropout.value()) == (8, 32, 0.05)
    assert (form.learning_rate_value(), form.batch_size.value()) == (5e-5, 8)
    assert (form.max_input.value(), form.max_target.value()) == (512, 512)
    form.max_input.setValue(256)
    form.max_target.setValue(64)
    form.batch_size.setValue(2)
    form.learning_rate.setText("1e-2")
    form.steps.setValue(30)
    form.save_every.setValue(3)
    form.device.setCurrentText("cpu")
    workspace = tmp_path / "lora-ws"
    form.workspace.set_path(workspace)
    assert form.validate() and page.run_button.isEnabled()

    page.run_button.click()
    qtbot.waitUntil(lambda: len(page.plot.points) >= 4, timeout=2 * MINUTE)
    # closing the app now asks first; "no" keeps the job (and the window)
    monkeypatch.setattr(wizard, "ask_stop_running_job", lambda: False)
    assert wizard.running_job() == "LoRA 学習" and not wizard.confirm_close()
    assert page.running
    page.monitor.stop_button.click()
    wait_idle(qtbot, page)
    assert page.monitor.state == "stopped" and list((workspace / "checkpoints").iterdir())

    page.monitor.resume_button.click()
    wait_idle(qtbot, page)
    assert page.monitor.state == "done", log_text(page)
    assert "resumed from step" in log_text(page)
    assert page.result is not None and page.result["steps"] == 30
    assert [x for x, _ in page.plot.points] == list(range(1, 31))
    merged = workspace / "merged"
    assert page.evaluation.model.text() == str(merged)
    assert page.steps.currentIndex() == 2

    assert page.evaluation.dataset.text().endswith("igakuqa_demo")
    page.evaluation.max_new_tokens.setValue(8)
    page.evaluation.limit.setValue(3)
    page.evaluation.run_button.click()
    wait_idle(qtbot, page)
    assert page.monitor.state == "done", log_text(page)
    metrics = page.evaluation.metrics
    assert metrics is not None and metrics.n == 3
    cells = {
        page.evaluation.table.item(r, 0).text(): page.evaluation.table.item(r, 1).text()
        for r in range(page.evaluation.table.rowCount())
    }
    assert cells["問題数"] == "3" and "正答率" in cells
    assert (workspace / "eval" / "predictions.jsonl").is_file()

    page.export.export_button.click()  # no quantisation: f16
    wait_idle(qtbot, page)
    assert page.export.gguf == workspace / "gguf" / "model.gguf" and page.export.mmproj is None
    spec = page.export.use()
    assert spec is not None and registry.default == spec.name
    assert registry.get(spec.name).path.is_file()


def test_input_errors_are_shown_beside_the_fields_and_block_the_run(qtbot, wizard, tmp_path):
    page, form = wizard.evolve, wizard.evolve.form
    form.vlm.set_path(tmp_path / "missing")
    form.data.set_path(tmp_path / "dev.txt")
    form.bounds.spins["p"][0].setValue(0.9)
    form.bounds.spins["p"][1].setValue(0.1)
    form.workspace.set_path("")
    assert not form.validate() and not page.run_button.isEnabled()
    assert form.vlm.message.text() == "フォルダーがありません。" and form.vlm.message.isVisible()
    assert "CSV" in form.data.message.text()
    assert "p" in form.bounds.message.text() and form.bounds.message.is_error
    assert form.workspace.has_error
    no_config = tmp_path / "no-config"
    no_config.mkdir()
    form.vlm.set_path(no_config)
    form.validate()
    assert "config.json" in form.vlm.message.text()
    assert not page.start()  # refused before any process starts
    assert not page.running and "赤字" in page.run_message.text()

    lora = wizard.lora.form
    lora.learning_rate.setText("abc")
    lora.qlora.setChecked(True)
    lora.device.setCurrentText("cpu")
    assert not lora.validate() and not wizard.lora.run_button.isEnabled()
    assert lora.lr_message.is_error and lora.device_message.is_error
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "x"}\nnot json\n', encoding="utf-8")
    lora.data.set_path(bad)
    lora.validate()
    assert lora.data.has_error and "instruction と output" in lora.data.message.text()


def python_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """Engine jobs run ``python ARGS`` instead (to stage crashes and long jobs)."""
    from jradi_desktop.ui.tuning import _process

    monkeypatch.setattr(_process, "engine_command", lambda *args: (sys.executable, list(args)))


def test_a_crashing_job_shows_its_log_tail_and_the_app_survives(
    qtbot, wizard, demo_dir, tmp_path, monkeypatch
):
    page = wizard.evolve
    broken = tmp_path / "broken-model"
    shutil.copytree(demo_dir / "med-a", broken)  # config.json is fine, the weights are not
    (broken / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header}")
    dev = write_demo_dev_set(tmp_path / "dev", n=2)
    page.form.specialists[0].set_path(broken)
    fill_evolve(page.form, dev, tmp_path / "crash-ws", trials=2)
    page.run_button.click()
    wait_idle(qtbot, page)
    assert page.monitor.state == "failed"
    assert page.monitor.error.isVisible() and "SafetensorError" in page.monitor.error.text()
    assert "ログの末尾" in log_text(page) and "Traceback" in log_text(page)
    assert page.monitor.resume_button.isEnabled()  # 「再開」 retries once fixed
    assert page.run_button.isEnabled() and wizard.running_job() is None

    # a child that dies by a signal: failed(tail) then finished(CRASHED), no exception here
    python_child(monkeypatch)
    script = "import os, sys; print('half a line'); sys.stderr.write('boom\\n'); os.abort()"
    job = EngineJob(["-c", script])
    failures: list[str] = []
    job.failed.connect(failures.append)
    with qtbot.waitSignal(job.finished, timeout=MINUTE) as ended:
        job.start()
    assert ended.args == [CRASHED] and "boom" in failures[0] and "half a line" in failures[0]


def test_closing_the_window_while_a_job_runs_asks_first(qtbot, tmp_path, demo_dir, monkeypatch):
    from jradi_desktop.store import Database, History
    from jradi_desktop.ui.main_window import MainWindow

    window = MainWindow(
        history=History(Database(tmp_path / "history.sqlite3")),
        registry=ModelRegistry(tmp_path / "models.json"),
        settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
    )
    qtbot.addWidget(window)
    window.show()
    assert isinstance(window.tuning, TuningWidget)
    page = window.tuning.lora
    python_child(monkeypatch)
    sleeper = Step("train", ["-c", "import time; time.sleep(60)"])
    assert page.run_chain([sleeper])
    answers = iter([False, True])
    monkeypatch.setattr(window.tuning, "ask_stop_running_job", lambda: next(answers))
    window.close()
    assert window.isVisible() and page.running  # "no": the job and the window stay
    window.close()
    assert not window.isVisible() and not page.running


def test_the_wizard_keeps_torch_and_optuna_out_of_the_gui_process(tmp_path):
    code = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from jradi_desktop.models import ModelRegistry
        from jradi_desktop.ui.tuning import TuningWidget
        widget = TuningWidget(ModelRegistry(Path({str(tmp_path / "m.json")!r})))
        widget.show()
        app.processEvents()
        heavy = ("torch", "transformers", "optuna", "peft", "engine")
        print(json.dumps([m for m in heavy if m in sys.modules]))
        """
    )
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**env, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_resource_check_asks_a_child_process_about_the_gpu(qtbot, wizard, monkeypatch):
    from jradi_desktop.ui.tuning import _resources

    smi = "NVIDIA H100 80GB HBM3, 81559, 80500\nbad line\n"
    assert _resources.parse_nvidia_smi(smi) == [
        {"name": "NVIDIA H100 80GB HBM3", "total": 81559 * 2**20, "free": 80500 * 2**20}
    ]
    box = wizard.evolve.form.resources
    assert "GB" in box.memory_label.text() or "MB" in box.memory_label.text()
    assert "空き" in box.disk_label.text()
    monkeypatch.setattr(_resources.shutil, "which", lambda name: None)  # no nvidia-smi here
    box.check_button.click()
    qtbot.waitUntil(lambda: box.gpus is not None, timeout=MINUTE)
    import torch

    assert bool(box.gpus) == torch.cuda.is_available()
    if not box.gpus:
        assert "GPU が見つかりません" in box.gpu_label.text()


def test_the_log_shows_the_engine_command_from_source_and_frozen(qtbot, monkeypatch):
    from jradi_desktop.ui.tuning._jobs import JobPage

    args = ["evolve", "recipe.yaml", "--workspace", "ws"]
    assert JobPage.command_text(EngineJob(args)) == "jradi-engine evolve recipe.yaml --workspace ws"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    frozen = EngineJob(args)
    assert Path(frozen.program).name == "jradi-engine" and frozen.arguments[0] == "evolve"
    assert JobPage.command_text(frozen) == "jradi-engine evolve recipe.yaml --workspace ws"
