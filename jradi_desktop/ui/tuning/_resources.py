"""The resource check before a run: the GPU (asked of ``nvidia-smi``, else of
``jradi-engine devices``; never of torch in the GUI), free disk in the workspace, and a memory
estimate."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from PySide6.QtCore import QProcess
from PySide6.QtWidgets import QGroupBox, QLabel, QPushButton, QWidget

from jradi_desktop.contract import RESULT, Devices, Event
from jradi_desktop.ui.tuning._data import free_bytes, gigabytes
from jradi_desktop.ui.tuning._fields import INFO_STYLE, OK_STYLE, WARNING_STYLE, Form
from jradi_desktop.ui.tuning._process import EngineJob


def host_memory() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def parse_nvidia_smi(text: str) -> list[dict[str, object]]:
    """``name, memory.total [MiB], memory.free [MiB]`` lines → GPUs (bytes)."""
    gpus: list[dict[str, object]] = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3:
            continue
        try:
            total, free = int(float(parts[1])) * 1024**2, int(float(parts[2])) * 1024**2
        except ValueError:
            continue
        gpus.append({"name": parts[0], "total": total, "free": free})
    return gpus


class ResourceBox(QGroupBox):
    """GPU / disk / memory lines; ``set_estimate`` after each change of the form."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gpus: list[dict[str, object]] | None = None  # None: not checked yet
        self.gpu_reason = ""
        self._estimate: tuple[int | None, int | None, Path | None] = (None, None, None)
        self._smi: QProcess | None = None
        self._job: EngineJob | None = None
        self.gpu_label = QLabel(wordWrap=True)
        self.disk_label = QLabel(wordWrap=True)
        self.memory_label = QLabel(wordWrap=True)
        self.check_button = QPushButton()
        self.form = Form(self)
        self.form.row(self.gpu_label)
        self.form.row(self.disk_label)
        self.form.row(self.memory_label)
        self.form.row(self.check_button)
        self.check_button.clicked.connect(self.check_gpu)
        self.retranslate()

    def retranslate(self) -> None:
        self.setTitle(self.tr("リソースの確認"))
        self.form.set_labels(self.tr("GPU"), self.tr("ディスク"), self.tr("メモリ"), "")
        self.check_button.setText(self.tr("GPU を確認"))
        self._show_gpu()
        self.set_estimate(*self._estimate)

    # -- GPU --------------------------------------------------------------------------------
    @property
    def checking(self) -> bool:
        return self._smi is not None or (self._job is not None and self._job.running)

    def check_gpu(self) -> None:
        """Ask ``nvidia-smi`` when installed, else ``jradi-engine devices`` (torch)."""
        if self.checking:
            return
        self.gpu_label.setText(self.tr("確認しています…"))
        self.gpu_label.setStyleSheet(INFO_STYLE)
        smi = shutil.which("nvidia-smi")
        if smi:
            process = QProcess(self)
            process.finished.connect(lambda code, _s: self._smi_done(process, code))
            process.errorOccurred.connect(lambda _e: self._smi_done(process, -1))
            self._smi = process
            args = ["--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"]
            process.start(smi, args)
            return
        job = EngineJob(["devices"], self)
        job.event.connect(self._gpu_event)
        job.failed.connect(lambda tail: self._gpu_done([], tail.splitlines()[-1:] or [""]))
        self._job = job
        job.start()

    def _smi_done(self, process: QProcess, code: int) -> None:
        if self._smi is not process:
            return
        self._smi = None
        text = bytes(process.readAllStandardOutput().data()).decode("utf-8", "replace")
        self._gpu_done(parse_nvidia_smi(text) if code == 0 else [], ["nvidia-smi"])

    def _gpu_event(self, event: Event) -> None:
        devices = Devices.from_event(event, RESULT)
        if devices is not None:
            self._gpu_done(list(devices.gpus or []), [str(devices.reason or "")])

    def _gpu_done(self, gpus: list[dict[str, object]], reason: list[str]) -> None:
        self.gpus = gpus
        self.gpu_reason = reason[0] if reason else ""
        self._show_gpu()

    def _show_gpu(self) -> None:
        if self.gpus is None:
            self.gpu_label.setText(self.tr("未確認（「GPU を確認」を押してください）"))
            self.gpu_label.setStyleSheet(INFO_STYLE)
        elif not self.gpus:
            self.gpu_label.setText(
                self.tr("GPU が見つかりません。CPU で実行します（とても遅くなります）。")
            )
            self.gpu_label.setStyleSheet(WARNING_STYLE)
        else:
            parts = []
            for gpu in self.gpus:
                free = gpu.get("free")
                memory = gigabytes(int(gpu["total"]))  # type: ignore[call-overload]
                if isinstance(free, int):
                    memory = f"{gigabytes(free)} / {memory}"
                parts.append(f"{gpu['name']} ({memory})")
            self.gpu_label.setText(", ".join(parts))
            self.gpu_label.setStyleSheet(OK_STYLE)

    # -- disk and memory --------------------------------------------------------------------
    def set_estimate(
        self, memory: int | None, disk_needed: int | None, workspace: Path | None
    ) -> None:
        self._estimate = (memory, disk_needed, workspace)
        free = free_bytes(workspace) if workspace is not None else None
        if free is None:
            self.disk_label.setText(self.tr("ワークスペースを選ぶと空き容量を表示します。"))
            self.disk_label.setStyleSheet(INFO_STYLE)
        else:
            text = self.tr("空き %1").replace("%1", gigabytes(free))
            if disk_needed:
                text += self.tr("（書き出しに約 %1 必要）").replace("%1", gigabytes(disk_needed))
            self.disk_label.setText(text)
            short = disk_needed is not None and free < disk_needed
            self.disk_label.setStyleSheet(WARNING_STYLE if short else OK_STYLE)
        if memory is None:
            self.memory_label.setText(self.tr("モデルを選ぶと推定します。"))
            self.memory_label.setStyleSheet(INFO_STYLE)
            return
        host = host_memory()
        text = self.tr("推定 %1（目安）").replace("%1", gigabytes(memory))
        gpu_total = sum(int(g["total"]) for g in self.gpus or [])  # type: ignore[call-overload]
        if gpu_total:
            text += self.tr("、GPU %1").replace("%1", gigabytes(gpu_total))
        if host:
            text += self.tr("、RAM %1").replace("%1", gigabytes(host))
        self.memory_label.setText(text)
        available = gpu_total + (host or 0)
        self.memory_label.setStyleSheet(
            WARNING_STYLE if available and memory > available else OK_STYLE
        )
