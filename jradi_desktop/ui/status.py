"""The status bar: the model, the device it runs on and the memory in use."""

from __future__ import annotations

import os

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QStatusBar

from jradi_desktop.models import ModelSpec
from jradi_desktop.ui.generation import GenerationController

MIB = 1024 * 1024


def process_memory(pid: int | None) -> int:
    """Resident memory of a process in bytes (0 when unknown)."""
    if pid is None:
        return 0
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except Exception:
        return 0


class StatusBar(QStatusBar):
    def __init__(self, controller: GenerationController) -> None:
        super().__init__()
        self.controller = controller
        self.model_label = QLabel()
        self.device_label = QLabel()
        self.memory_label = QLabel()
        for label in (self.model_label, self.device_label, self.memory_label):
            self.addPermanentWidget(label)
        controller.modelChanged.connect(lambda _: self.refresh())
        self._timer = QTimer(self)
        self._timer.setInterval(2000)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def retranslate(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        spec: ModelSpec | None = self.controller.spec
        if spec is None:
            self.model_label.setText(self.tr("モデル：なし"))
            self.device_label.clear()
        else:
            self.model_label.setText(self.tr("モデル：") + spec.name)
            info = self.controller.worker_info
            device = str(info.get("device", "")).upper() or self.tr("読み込み中…")
            self.device_label.setText(self.tr("デバイス：") + device)
        app = process_memory(os.getpid())
        worker = process_memory(self.controller.worker_pid)
        self.memory_label.setText(self.tr("メモリ：") + f"{app // MIB} MiB + {worker // MIB} MiB")
