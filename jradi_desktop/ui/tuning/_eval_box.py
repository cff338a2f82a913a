"""Evaluation on an IgakuQA-format question set (``jradi-engine eval-qa``) and its metrics."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHeaderView,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from jradi_desktop.contract import QA_MAX_NEW_TOKENS, QAMetrics
from jradi_desktop.ui.tuning._fields import Form, PathField, spin_box


def _cell(value: float | int) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


class EvalBox(QGroupBox):
    """The question set, the model to ask, limits, 「評価を実行」 and the metrics table."""

    runRequested = Signal()

    def __init__(self, dataset: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.metrics: QAMetrics | None = None
        self.dataset = PathField("dir")
        self.dataset.set_path(dataset)
        self.model = PathField("dir")
        self.max_new_tokens = spin_box(QA_MAX_NEW_TOKENS, 8192)
        self.limit = QSpinBox(minimum=0, maximum=1_000_000, value=0)
        self.run_button = QPushButton()
        self.table = QTableWidget(0, 2)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(160)
        self.form = Form(self)
        for widget in (self.dataset, self.model, self.max_new_tokens, self.limit,
                       self.run_button, self.table):  # fmt: skip
            self.form.row(widget)
        self.dataset.changed.connect(self.validate)
        self.model.changed.connect(self.validate)
        self.run_button.clicked.connect(self.runRequested)
        self.retranslate()

    def retranslate(self) -> None:
        self.setTitle(self.tr("評価（IgakuQA 形式の問題集）"))
        self.form.set_labels(
            self.tr("問題集"), self.tr("モデル"), self.tr("最大生成トークン数"),
            self.tr("問題数の上限"), "", "",
        )  # fmt: skip
        self.limit.setSpecialValueText(self.tr("すべて"))
        self.run_button.setText(self.tr("評価を実行"))
        self.dataset.caption = self.tr("IgakuQA 形式のフォルダー")
        self.model.caption = self.tr("評価するモデル（HF フォルダー）")
        self.table.setHorizontalHeaderLabels([self.tr("指標"), self.tr("値")])
        for field in (self.dataset, self.model):
            field.retranslate()
        if self.metrics is not None:
            self.show_metrics(self.metrics)
        self.validate()

    def validate(self) -> bool:
        dataset = self.dataset.path()
        if dataset is None or not dataset.exists():
            self.dataset.set_message(
                self.tr("問題集のフォルダー（または JSONL）を選んでください。")
            )
        else:
            self.dataset.set_message("")
        model = self.model.path()
        if model is None:
            self.model.set_message(
                self.tr("学習が終わると、マージしたモデルがここに入ります。"), "info"
            )
        elif not (model.is_dir() and (model / "config.json").is_file()) and not (
            model.is_file() and model.suffix.lower() == ".gguf"
        ):
            self.model.set_message(
                self.tr("モデルのフォルダー（config.json）か .gguf ファイルを選んでください。")
            )
        else:
            self.model.set_message("")
        ok = model is not None and not self.dataset.has_error and not self.model.has_error
        self.run_button.setEnabled(ok)
        return ok

    def arguments(self, out: Path, prompt_format: str) -> list[str]:
        args = ["eval-qa", "--dataset", self.dataset.text(), "--model", self.model.text(),
                "--out", str(out), "--prompt-format", prompt_format,
                "--max-new-tokens", str(self.max_new_tokens.value())]  # fmt: skip
        if self.limit.value():
            args += ["--limit", str(self.limit.value())]
        return args

    def show_metrics(self, metrics: QAMetrics) -> None:
        self.metrics = metrics
        points = f"{metrics.igakuqa_points} / {metrics.igakuqa_points_total}"
        rows = [
            (self.tr("問題数"), str(metrics.n)),
            (self.tr("正答率"), _cell(metrics.accuracy)),
            (self.tr("完全一致"), _cell(metrics.exact_match)),
            (self.tr("類似度（Gestalt）"), _cell(metrics.gestalt)),
            (self.tr("IgakuQA 正答率"), _cell(metrics.igakuqa_accuracy)),
            (self.tr("IgakuQA 得点"), points),
        ]
        for block, scores in sorted(metrics.by_block.items()):
            rows.append((self.tr("ブロック %1 の正答率").replace("%1", block),
                         f"{_cell(scores.accuracy)}（n={scores.n}）"))  # fmt: skip
        if metrics.seconds is not None:
            rows.append((self.tr("所要時間（秒）"), _cell(float(metrics.seconds))))
        self.table.setRowCount(len(rows))
        for row, (name, value) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            item = QTableWidgetItem(value)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, 1, item)
