"""GUI responsiveness: start-up time to a shown window, and event-loop stalls while a report
streams. Prints figures; not a test.

    .venv/bin/python benchmarks/bench_gui.py
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 5


def startup() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "JRADI_PRINT_SHOWN": "1"}
    with tempfile.TemporaryDirectory() as data:
        env["JRADI_DATA_DIR"] = data
        env["XDG_CONFIG_HOME"] = data
        times, heavy = [], set()
        for _ in range(RUNS):
            start = time.time()
            out = subprocess.run(
                [sys.executable, "-m", "jradi_desktop.ui.app", "--quit-after", "0.2"],
                env=env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            line = next(line for line in out.stdout.splitlines() if line.startswith("{"))
            shown = json.loads(line)
            times.append(shown["shown_at"] - start)
            heavy.update(shown["heavy_modules"])
    print(f"start-up, process start -> main window shown, {RUNS} runs")
    print(f"    median {statistics.median(times) * 1000:.0f} ms   (goal <= 1500 ms)")
    print(f"    all    {', '.join(f'{t * 1000:.0f}' for t in times)} ms")
    print(f"    heavy modules imported by then: {sorted(heavy) or 'none'}")


def stalls() -> None:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from engine.demo import build_demo_models
    from engine.export import export_gguf
    from jradi_desktop.imaging import open_image
    from jradi_desktop.inference import GenerationParams
    from jradi_desktop.models import ModelRegistry, ModelSpec
    from jradi_desktop.store import Database, History
    from jradi_desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        models = build_demo_models(tmp / "demo", vlm="llava")  # as measured before #14
        exported = export_gguf(models / "vlm", tmp / "gguf", "f16")
        window = MainWindow(
            History(Database(tmp / "h.sqlite3")), ModelRegistry(tmp / "m.json"),
            QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat),
        )  # fmt: skip
        window.show()
        window.set_model(ModelSpec("demo", "gguf", exported.model, exported.mmproj))
        import pydicom.data

        window.show_image(open_image(pydicom.data.get_testdata_file("CT_small.dcm")))
        window.session.params = GenerationParams(max_new_tokens=3000)
        ticks: list[float] = []
        pieces = [0]
        timer = QTimer()
        timer.setInterval(5)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        done = [False]
        timer.start()
        window.session.generate("")
        window.session.job.piece.connect(lambda *_: pieces.__setitem__(0, pieces[0] + 1))
        window.session.job.finished.connect(lambda *_: done.__setitem__(0, True))
        deadline = time.perf_counter() + 120
        while not done[0] and time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.001)
        timer.stop()
        gaps = [b - a for a, b in itertools.pairwise(ticks)]
        print("event loop while a report streams (5 ms timer; gaps between its ticks)")
        print(f"    pieces received     {pieces[0]}, streaming {ticks[-1] - ticks[0]:.1f} s")
        print(f"    longest stall       {max(gaps) * 1000:.1f} ms   (goal <= 100 ms)")
        print(f"    p99 gap             {sorted(gaps)[int(len(gaps) * 0.99)] * 1000:.1f} ms")
        window.close()


if __name__ == "__main__":
    startup()
    stalls()
