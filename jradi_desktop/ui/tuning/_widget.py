"""The 「チューニング」 tab: the JRadiEvo evolutionary merge and JMedLoRA LoRA tuning, each a
small wizard (settings → run → results) over engine child processes."""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from jradi_desktop.models import ModelRegistry
from jradi_desktop.ui.demo_install import engine_available
from jradi_desktop.ui.tuning._data import find_demo_models, sample_path
from jradi_desktop.ui.tuning._evolve_page import EvolvePage
from jradi_desktop.ui.tuning._lora_page import LoraPage


def default_demo_models(registry: ModelRegistry) -> Path | None:
    """The demo model folders, where the app or ``JRADI_DEMO_MODELS`` put them."""
    env = os.environ.get("JRADI_DEMO_MODELS")
    return find_demo_models(Path(env) if env else None, registry.path.parent / "demo-model" / "hf")


class TuningWidget(QWidget):
    """Both flows; ``modelReady`` carries a registered ``ModelSpec`` the app should load."""

    modelReady = Signal(object)

    def __init__(
        self,
        registry: ModelRegistry,
        demo_models: Path | None = None,
        workspace_root: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        demo = demo_models if demo_models is not None else default_demo_models(registry)
        root = workspace_root or registry.path.parent / "tuning"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        engine_ok = engine_available()
        self.evolve = EvolvePage(registry, demo, root / f"evolve-{stamp}", engine_ok)
        self.lora = LoraPage(
            registry,
            demo / "base" if demo else None,
            sample_path("instructions_ja.jsonl"),
            sample_path("igakuqa_demo"),
            root / f"lora-{stamp}",
            engine_ok,
        )
        self.evolve_button = QPushButton(checkable=True, checked=True)
        self.lora_button = QPushButton(checkable=True)
        group = QButtonGroup(self)
        group.setExclusive(True)
        self.stack = QStackedWidget()
        for index, (button, page) in enumerate(((self.evolve_button, self.evolve),
                                                (self.lora_button, self.lora))):  # fmt: skip
            group.addButton(button, index)
            self.stack.addWidget(page)
            page.modelReady.connect(self.modelReady)
        group.idToggled.connect(lambda index, on: on and self.stack.setCurrentIndex(index))
        switch = QHBoxLayout()
        switch.setSpacing(0)
        switch.addWidget(self.evolve_button, 1)
        switch.addWidget(self.lora_button, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(switch)
        layout.addWidget(self.stack, 1)
        self.retranslate()

    def retranslate(self) -> None:
        self.evolve_button.setText(self.tr("進化的マージ（JRadiEvo）"))
        self.lora_button.setText(self.tr("LoRA 学習（JMedLoRA）"))
        self.evolve.retranslate()
        self.lora.retranslate()

    def show_flow(self, name: str) -> None:
        """ "evolve" or "lora"."""
        button = self.evolve_button if name == "evolve" else self.lora_button
        button.setChecked(True)

    # -- lifetime ---------------------------------------------------------------------------
    def running_job(self) -> str | None:
        """What runs now, in words; None when no job runs."""
        return self.evolve.running_job() or self.lora.running_job()

    def ask_stop_running_job(self) -> bool:
        """Ask whether to stop the running job so the application can close (True: stop).

        A method of its own so that tests can replace it instead of answering a dialog.
        """
        job = self.running_job()
        if job is None:
            return True
        answer = QMessageBox.question(
            self,
            self.tr("ジョブの実行中"),
            self.tr(
                "「%1」を実行中です。停止して終了しますか？\n停止しても、同じワークスペースで「再開」すると続きから実行できます。"
            ).replace("%1", job),
        )
        return answer == QMessageBox.StandardButton.Yes

    def confirm_close(self) -> bool:
        """For the window's close: True when nothing runs or the user agreed to stop it
        (the job is then stopped); False keeps the window open."""
        if self.running_job() is None:
            return True
        if not self.ask_stop_running_job():
            return False
        self.shutdown()
        return True

    def shutdown(self, msecs: int = 5000) -> None:
        """Stop every job and wait for it to end."""
        self.evolve.shutdown(msecs)
        self.lora.shutdown(msecs)
