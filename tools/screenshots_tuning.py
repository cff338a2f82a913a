"""Screenshots of the tuning wizard running on the demo models (offscreen is fine).

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/screenshots_tuning.py [--out DIR]

Builds the trained demo models and a small dev set in a temporary folder, opens the main
window on the 「チューニング」 tab, runs a JRadiEvo search and a LoRA training as the wizard
does (engine child processes) and saves, while each runs, ``tuning_evolve_ja.png`` and
``tuning_lora_ja.png`` (default: docs/screenshots/). ``--all`` also saves the settings and
results pages (``tuning_*_settings_ja.png``, ``tuning_*_results_ja.png``) for review.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "screenshots"


def wait(app: object, condition: Callable[[], bool], timeout: float = 300) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.01)
    return condition()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=SHOTS)
    parser.add_argument("--all", action="store_true", help="also the settings and results pages")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from engine.demo import build_demo_models
    from engine.demo_data import write_demo_dev_set
    from jradi_desktop.models import ModelRegistry
    from jradi_desktop.store import Database, History
    from jradi_desktop.ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        models = build_demo_models(tmp / "demo", trained=True, vlm="llava")
        dev = write_demo_dev_set(tmp / "dev", n=6)
        os.environ["JRADI_DEMO_MODELS"] = str(models)
        window = MainWindow(
            History(Database(tmp / "h.sqlite3")), ModelRegistry(tmp / "m.json"),
            QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat),
        )  # fmt: skip
        tuning = window.tuning  # pre-filled from JRADI_DEMO_MODELS
        window.resize(1500, 960)
        window.splitter.setSizes([520, 980])
        window.tabs.setCurrentWidget(tuning)
        window.show()

        def shot(name: str) -> None:
            wait(app, lambda: False, timeout=0.4)
            window.grab().save(str(args.out / name))
            print("saved", args.out / name)

        page = tuning.evolve
        form = page.form
        form.data.set_path(dev)
        form.trials.setValue(16)
        form.max_new_tokens.setValue(48)
        form.batch_size.setValue(6)
        form.device.setCurrentText("cpu")
        form.workspace.set_path(tmp / "runs" / "evolve-demo")
        form.validate()
        if args.all:
            page.steps.setCurrentIndex(0)
            shot("tuning_evolve_settings_ja.png")
        page.start()
        wait(app, lambda: page.complete() >= 10)
        shot("tuning_evolve_ja.png")
        wait(app, lambda: not page.running)
        if args.all:
            page.export.quantize.setCurrentText("Q8_0")
            page.export.export_button.click()
            wait(app, lambda: not page.running)
            page.export.use()
            shot("tuning_evolve_results_ja.png")

        tuning.show_flow("lora")
        lora = tuning.lora
        lora.form.base.set_path(models / "ja")
        lora.form.max_input.setValue(256)
        lora.form.max_target.setValue(64)
        lora.form.batch_size.setValue(4)
        lora.form.learning_rate.setText("2e-3")
        lora.form.steps.setValue(80)
        lora.form.save_every.setValue(20)
        lora.form.device.setCurrentText("cpu")
        lora.form.workspace.set_path(tmp / "runs" / "lora-demo")
        lora.form.validate()
        if args.all:
            lora.steps.setCurrentIndex(0)
            shot("tuning_lora_settings_ja.png")
        lora.start()
        wait(app, lambda: len(lora.plot.points) >= 50)
        shot("tuning_lora_ja.png")
        wait(app, lambda: not lora.running)
        if args.all:
            lora.evaluation.max_new_tokens.setValue(16)
            lora.evaluate()
            wait(app, lambda: not lora.running)
            lora.export.quantize.setCurrentText("Q8_0")
            lora.export.export_button.click()
            wait(app, lambda: not lora.running)
            shot("tuning_lora_results_ja.png")
        tuning.shutdown()
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
