"""The LoRA run's settings: base model, instruction data with a preview, JMedLoRA's
hyperparameters, workspace and resources; ``config()`` is ``jradi-engine lora``'s YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHeaderView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from jradi_desktop import contract
from jradi_desktop.contract import DEVICES, PROMPT_FORMATS, TARGET_MODULES
from jradi_desktop.ui.tuning._data import (
    InstructionPreview,
    model_folder_problem,
    read_instructions,
    weights_info,
)
from jradi_desktop.ui.tuning._fields import (
    Form,
    Message,
    PathField,
    boxes,
    double_box,
    model_ok_message,
    spin_box,
    stacked,
    workspace_access,
    workspace_problem,
)
from jradi_desktop.ui.tuning._resources import ResourceBox


class LoraForm(QWidget):
    validityChanged = Signal(bool)

    def __init__(self, base: Path | None, data: Path | None, workspace: Path) -> None:
        super().__init__()
        self.valid = False
        self.instructions = InstructionPreview()
        self.base = PathField("dir")
        self.base.set_path(base)
        self.data = PathField("file", "JSON Lines (*.jsonl)")
        self.data.set_path(data)
        self.preview = QTableWidget(0, 3)
        self.preview.verticalHeader().setVisible(False)
        self.preview.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.preview.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.preview.setMaximumHeight(150)
        # JMedLoRA's LoRA column (REFERENCE.md §2; engine/lora/_config.py)
        self.r = spin_box(contract.LORA_R, 4096)
        self.alpha = double_box(contract.LORA_ALPHA, 65536, 2, 1)
        self.dropout = double_box(contract.LORA_DROPOUT, 1.0, 3, 0.01)
        self.learning_rate = QLineEdit(
            f"{contract.LORA_LEARNING_RATE.default:g}".replace("e-0", "e-")
        )
        self.lr_message = Message()
        self.batch_size = spin_box(contract.LORA_BATCH_SIZE, 4096)
        self.max_input = spin_box(contract.LORA_MAX_INPUT_LENGTH, 131072)
        self.max_target = spin_box(contract.LORA_MAX_TARGET_LENGTH, 131072)
        self.targets = QComboBox()
        self.targets.addItems(["" for _ in TARGET_MODULES])  # named in retranslate()
        self.targets.setCurrentIndex(TARGET_MODULES.index(contract.LORA_TARGET_MODULES))
        self.steps = spin_box(contract.LORA_MAX_STEPS, 10_000_000)
        self.save_every = spin_box(contract.LORA_SAVE_EVERY, 10_000_000)
        self.prompt_format = QComboBox()
        self.prompt_format.addItems(PROMPT_FORMATS)
        self.prompt_format.setCurrentText(contract.LORA_PROMPT_FORMAT)
        self.qlora = QCheckBox()
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device_message = Message()
        self.workspace = PathField("dir")
        self.workspace.set_path(workspace)
        self.resources = ResourceBox()

        self.model_box = QGroupBox()
        stacked(self.base, into=self.model_box)
        self.data_box = QGroupBox()
        stacked(self.data, self.preview, into=self.data_box)
        self.hyper_box = QGroupBox()
        self.hyper = Form(self.hyper_box)
        for field in (self.r, self.alpha, self.dropout,
                      stacked(self.learning_rate, self.lr_message), self.batch_size,
                      self.max_input, self.max_target, self.targets, self.steps, self.save_every,
                      self.prompt_format, self.qlora,
                      stacked(self.device, self.device_message)):  # fmt: skip
            self.hyper.row(field)
        self.place_box = QGroupBox()
        stacked(self.workspace, into=self.place_box)
        boxes(self, self.model_box, self.data_box, self.hyper_box, self.place_box,
              self.resources)  # fmt: skip

        self._timer = QTimer(self, singleShot=True, interval=120)
        self._timer.timeout.connect(self.validate)
        for field in (self.base, self.data, self.workspace):
            field.changed.connect(self._timer.start)
        for signal in (self.learning_rate.textChanged, self.qlora.toggled,
                       self.device.currentIndexChanged):  # fmt: skip
            signal.connect(self._timer.start)
        self.retranslate()

    def retranslate(self) -> None:
        self.model_box.setTitle(self.tr("1. ベースモデル"))
        self.base.caption = self.tr("ベースモデルのフォルダー")
        self.data_box.setTitle(self.tr("2. 指示データ（JSONL: instruction / input / output）"))
        self.data.caption = self.tr("指示データ（JSONL）")
        self.preview.setHorizontalHeaderLabels(["instruction", "input", "output"])
        self.hyper_box.setTitle(self.tr("3. ハイパーパラメータ（JMedLoRA の既定値）"))
        labels = ("r", "alpha", self.tr("ドロップアウト"), self.tr("学習率"),
                  self.tr("バッチサイズ"), self.tr("最大入力長"), self.tr("最大出力長"),
                  self.tr("対象モジュール"), self.tr("ステップ数"),
                  self.tr("チェックポイント間隔"), self.tr("プロンプト形式"), "QLoRA",
                  self.tr("デバイス"))  # fmt: skip
        self.hyper.set_labels(*labels)
        names = {"qkv": self.tr("q / k / v（注意機構）"), "all-linear": self.tr("すべての線形層")}
        for index, target in enumerate(TARGET_MODULES):
            self.targets.setItemText(index, names[target])
        self.qlora.setText(self.tr("4bit 量子化（CUDA と bitsandbytes が必要）"))
        self.place_box.setTitle(self.tr("4. ワークスペース"))
        self.workspace.caption = self.tr("ワークスペースのフォルダー")
        for field in (self.base, self.data, self.workspace):
            field.retranslate()
        self.resources.retranslate()
        self.validate()

    # -- checks -----------------------------------------------------------------------------
    def learning_rate_value(self) -> float | None:
        try:
            value = float(self.learning_rate.text().strip())
        except ValueError:
            return None
        return value if 0 < value < 1 else None

    def validate(self) -> bool:
        problem = model_folder_problem(self.base.text())
        self.base.set_message(
            problem or model_ok_message(self.base.path()), "error" if problem else "ok"
        )
        self.instructions = read_instructions(self.data.text())
        if self.instructions.error:
            self.data.set_message(self.instructions.error)
        else:
            note = self.tr("%1 件").replace("%1", str(self.instructions.count))
            bad = self.instructions.bad_lines
            if bad:
                note += self.tr("（読めない行 %1 行は使いません: %2）").replace(
                    "%1", str(len(bad))).replace("%2", ", ".join(map(str, bad[:5])))  # fmt: skip
            self.data.set_message(note, "warning" if bad else "ok")
        self._fill_preview()
        self.lr_message.show_message(
            "" if self.learning_rate_value() is not None
            else self.tr("0 より大きく 1 より小さい数（例: 5e-5）を入力してください。")
        )  # fmt: skip
        self.device_message.show_message(
            self.tr("QLoRA（4bit）は CUDA の GPU でのみ動きます。デバイスを auto か cuda にしてください。")  # noqa: E501
            if self.qlora.isChecked() and self.device.currentText() == "cpu" else ""
        )  # fmt: skip
        self._check_workspace()
        self._update_resources()
        fields = (self.base, self.data, self.workspace)
        self.valid = not any(f.has_error for f in fields) and not (
            self.lr_message.is_error or self.device_message.is_error
        )
        self.validityChanged.emit(self.valid)
        return self.valid

    def _fill_preview(self) -> None:
        records = self.instructions.records
        self.preview.setRowCount(len(records))
        for row, record in enumerate(records):
            for column, key in enumerate(("instruction", "input", "output")):
                item = QTableWidgetItem(record[key])
                item.setToolTip(record[key])
                self.preview.setItem(row, column, item)
        self.preview.setVisible(bool(records))

    def _check_workspace(self) -> None:
        path = self.workspace.path()
        problem = workspace_problem(path)
        if problem is not None or path is None:  # path is None gives a problem too
            self.workspace.set_message(problem or "")
        elif (path / "result.json").exists():
            self.workspace.set_message(
                self.tr("この学習は完了しています。新しいフォルダーを選んでください。")
            )
        elif (path / "lora_config.yaml").exists():
            self.workspace.set_message(
                self.tr("途中の学習があります。開始すると最後のチェックポイントから再開します。"),
                "info",
            )
        elif access := workspace_access(path):
            self.workspace.set_message(*access)
        else:
            self.workspace.set_message("")

    def _update_resources(self) -> None:
        if self.base.has_error or not self.base.text():
            self.resources.set_estimate(None, None, self.workspace.path())
            return
        weights = weights_info(self.base.path())  # type: ignore[arg-type]
        # the weights (a quarter in 4 bit) plus adapter, optimizer and activations, roughly
        memory = int(weights.bytes * (0.35 if self.qlora.isChecked() else 1.0) * 1.3)
        self.resources.set_estimate(memory, 2 * weights.bytes, self.workspace.path())

    # -- the config -------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {
            "base_model": self.base.text(),
            "data": [self.data.text()],
            "prompt_format": self.prompt_format.currentText(),
            "lora": {
                "r": self.r.value(),
                "alpha": self.alpha.value(),
                "dropout": self.dropout.value(),
                "target_modules": TARGET_MODULES[self.targets.currentIndex()],
            },
            "quantization": "4bit" if self.qlora.isChecked() else "none",
            "max_input_length": self.max_input.value(),
            "max_target_length": self.max_target.value(),
            "learning_rate": self.learning_rate_value(),
            "max_steps": self.steps.value(),
            "batch_size": self.batch_size.value(),
            "save_every": self.save_every.value(),
            "device": self.device.currentText(),
            "merge": True,  # the merged model is what is evaluated and exported
        }
