"""「デモモデルをインストール」: a tiny model so every feature can be tried (not for clinical use).

A packaged app ships the demo GGUF pair (``demo-model/`` beside the executable or in
``JRADI_DEMO_MODEL_DIR``) and only registers it. A development install builds it with the
engine in child processes (``jradi-engine demo-models --trained`` then ``export-gguf``; see
``engine_command`` for a frozen app),
reading their JSON progress events; the GUI process itself never imports torch.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal

from jradi_desktop.models import ModelSpec
from jradi_desktop.ui.engine_command import engine_command

DEMO_NAME = "jradi-demo（臨床使用不可）"


def bundled_demo() -> ModelSpec | None:
    """The demo GGUF pair shipped with a packaged app, if any."""
    candidates = [os.environ.get("JRADI_DEMO_MODEL_DIR", "")]
    if getattr(sys, "frozen", False):
        candidates.append(str(Path(sys.executable).parent / "demo-model"))
        candidates.append(str(Path(getattr(sys, "_MEIPASS", "")) / "demo-model"))
    for folder in filter(None, candidates):
        model, mmproj = Path(folder) / "model.gguf", Path(folder) / "mmproj.gguf"
        if model.is_file() and mmproj.is_file():
            return ModelSpec(DEMO_NAME, "gguf", model, mmproj)
    return None


def engine_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("engine", "torch"))


class DemoInstaller(QObject):
    """Builds the demo model into ``folder`` with two engine child processes."""

    progress = Signal(int, int, str)  # step, total, message
    finished = Signal(object)  # ModelSpec
    failed = Signal(str)

    def __init__(self, folder: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        self._process: QProcess | None = None
        self._buffer = b""

    def start(self) -> None:
        models = self.folder / "hf"
        self._run(["demo-models", str(models), "--trained"], 0, self._export)

    def cancel(self) -> None:
        if self._process is not None:
            self._process.kill()

    def _export(self) -> None:
        args = ["export-gguf", str(self.folder / "hf" / "vlm"), str(self.folder / "gguf")]
        self._run(args, 1, self._done)

    def _done(self) -> None:
        gguf = self.folder / "gguf"
        self.finished.emit(ModelSpec(DEMO_NAME, "gguf", gguf / "model.gguf", gguf / "mmproj.gguf"))

    def _run(self, args: list[str], phase: int, then: Callable[[], None]) -> None:
        process = QProcess(self)
        program, arguments = engine_command(*args)
        process.setProgram(program)
        process.setArguments(arguments)
        process.readyReadStandardOutput.connect(lambda: self._read(process, phase))
        process.finished.connect(lambda code, _status: self._ended(process, code, then))
        self._process = process
        process.start()

    def _read(self, process: QProcess, phase: int) -> None:
        self._buffer += bytes(process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("kind") == "progress":
                self.progress.emit(phase * 10 + event["step"], 20, event.get("message", ""))

    def _ended(self, process: QProcess, code: int, then: Callable[[], None]) -> None:
        if code != 0:
            tail = bytes(process.readAllStandardError()).decode("utf-8", "replace")[-800:]
            self.failed.emit(tail or f"exit code {code}")
            return
        then()
