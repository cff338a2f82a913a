"""Form pieces of the wizard: a path field with its message beside it, the search bounds
table, and small layout helpers."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from jradi_desktop.contract import FAMILIES, PER_MODEL, Limit, search_params

ERROR_STYLE = "color: #b3261e"
OK_STYLE = "color: #0d652d"
INFO_STYLE = "color: #5f6368"
WARNING_STYLE = "color: #8a5300"
STYLES = {"error": ERROR_STYLE, "ok": OK_STYLE, "info": INFO_STYLE, "warning": WARNING_STYLE}


def spin_box(limit: Limit[int], high: int) -> QSpinBox:
    """A spin box at ``limit``'s default offering what the engine accepts (up to ``high``)."""
    low = limit.ge if limit.ge is not None else 0
    return QSpinBox(minimum=low, maximum=high, value=limit.default)


def double_box(limit: Limit[float], high: float, decimals: int, step: float) -> QDoubleSpinBox:
    """The same for a decimal; an open bound (``gt``, ``lt``) is one display step inside."""
    tick = 10.0**-decimals
    low = limit.ge if limit.ge is not None else (limit.gt or 0.0) + tick
    high = min(high, limit.lt - tick) if limit.lt is not None else high
    box = QDoubleSpinBox(minimum=low, maximum=high, decimals=decimals, singleStep=step)
    box.setValue(limit.default)
    return box


def stacked(*items: QWidget | QLayout, into: QWidget | None = None) -> QVBoxLayout:
    """``items`` stacked (a field and its message; a box's fields), laid ``into`` a widget
    when given."""
    layout = QVBoxLayout(into) if into is not None else QVBoxLayout()
    for item in items:
        if isinstance(item, QLayout):
            layout.addLayout(item)
        else:
            layout.addWidget(item)
    return layout


def boxes(owner: QWidget, *items: QWidget) -> None:
    """A form's group boxes down ``owner``, edge to edge, the rest of the height left empty."""
    layout = stacked(*items, into=owner)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addStretch(1)


class Form(QFormLayout):
    """A form that keeps its row labels, so that ``set_labels`` can retranslate them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row_labels: list[QLabel] = []

    def row(self, field: QWidget | QLayout, text: str = "") -> QLabel:
        label = QLabel(text)
        self.addRow(label, field)
        self.row_labels.append(label)
        return label

    def set_labels(self, *texts: str) -> None:
        for label, text in zip(self.row_labels, texts, strict=True):
            label.setText(text)


class Message(QLabel):
    """A one-line note under a field: an error (red), a warning, an ok or an info."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.level = ""
        self.setVisible(False)

    def show_message(self, text: str, level: str = "error") -> None:
        self.level = level if text else ""
        self.setText(text)
        self.setStyleSheet(STYLES.get(level, INFO_STYLE))
        self.setVisible(bool(text))

    @property
    def is_error(self) -> bool:
        return self.level == "error"


class PathField(QWidget):
    """A path: a line edit, a browse button (folder or file) and the message beside it."""

    changed = Signal()
    removeRequested = Signal()

    def __init__(
        self,
        kind: str = "dir",
        filters: str = "",
        removable: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.kind = kind
        self.filters = filters
        self.caption = ""
        self.edit = QLineEdit()
        self.edit.setClearButtonEnabled(True)
        self.browse = QToolButton()
        self.remove = QToolButton() if removable else None
        self.message = Message()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse)
        if self.remove is not None:
            row.addWidget(self.remove)
            self.remove.setText("✕")
            self.remove.clicked.connect(self.removeRequested)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.edit.textChanged.connect(lambda _: self.changed.emit())
        self.browse.clicked.connect(self.choose)
        self.retranslate()

    def retranslate(self) -> None:
        self.browse.setText(self.tr("参照…"))
        if self.remove is not None:
            self.remove.setToolTip(self.tr("この行を削除"))

    def text(self) -> str:
        return self.edit.text().strip()

    def path(self) -> Path | None:
        return Path(self.text()).expanduser() if self.text() else None

    def set_path(self, path: str | Path | None) -> None:
        self.edit.setText("" if path is None else str(path))

    def set_message(self, text: str, level: str = "error") -> None:
        self.message.show_message(text, level)

    @property
    def has_error(self) -> bool:
        return self.message.is_error

    def choose(self) -> None:
        start = self.text() or str(Path.home())
        if self.kind == "dir":
            chosen = QFileDialog.getExistingDirectory(self, self.caption, start)
        elif self.kind == "save":
            chosen, _ = QFileDialog.getSaveFileName(self, self.caption, start, self.filters)
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, self.caption, start, self.filters)
        if chosen:
            self.edit.setText(chosen)


def workspace_problem(path: Path | None) -> str | None:
    """The error for a workspace that is not chosen or not a folder, else None."""
    if path is None:
        return QCoreApplication.translate(
            "PathField", "ワークスペースのフォルダーを選んでください。"
        )
    if path.exists() and not path.is_dir():
        return QCoreApplication.translate("PathField", "フォルダーではありません。")
    return None


def workspace_access(path: Path) -> tuple[str, str] | None:
    """(message, level) for a workspace that must be created or cannot be written, else None."""
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is None or not os.access(parent, os.W_OK):
            text = "このフォルダーを作成できません（書き込み権限がありません）。"
            return QCoreApplication.translate("PathField", text), "error"
        return QCoreApplication.translate("PathField", "新しいフォルダーを作成します。"), "info"
    if not os.access(path, os.W_OK):
        return QCoreApplication.translate("PathField", "書き込み権限がありません。"), "error"
    return None


def model_ok_message(folder: Path) -> str:
    """「OK（…パラメータ、… GB）」 for a model folder that passed its checks."""
    from jradi_desktop.ui.tuning._data import gigabytes, weights_info

    weights = weights_info(folder)
    millions = weights.parameters / 1e6
    size = f"{millions / 1000:.1f} B" if millions >= 1000 else f"{millions:.1f} M"
    text = QCoreApplication.translate("PathField", "OK（%1 パラメータ、%2）")
    return text.replace("%1", size).replace("%2", gigabytes(weights.bytes))


class BoundsTable(QWidget):
    """[low, high] of each searched number, REFERENCE's ranges by default."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(8)
        self.grid.setVerticalSpacing(2)
        self.header = [QLabel(), QLabel(), QLabel()]
        for column, label in enumerate(self.header):
            self.grid.addWidget(label, 0, column)
        self.spins: dict[str, tuple[QDoubleSpinBox, QDoubleSpinBox]] = {}
        self.labels: dict[str, QLabel] = {}
        self.model_names: list[str] = []
        self.message = Message()
        self.set_models(["VLM"])
        self.retranslate()

    def retranslate(self) -> None:
        for label, text in zip(
            self.header, (self.tr("パラメータ"), self.tr("下限"), self.tr("上限")), strict=True
        ):
            label.setText(f"<b>{text}</b>")
        self._relabel()

    def _relabel(self) -> None:
        names = {
            "p": self.tr("p（DARE の削除率）"),
            "lambda": self.tr("λ（全体の倍率）"),
            "k": self.tr("k（TIES の残す割合）"),
            "w": self.tr("w（重み）"),
        }
        for param in search_params(len(self.model_names)):
            label = names.get(param.family, param.family)
            if param.index is not None:
                label = f"{param.name}  {self.model_names[param.index]}"
            self.labels[param.name].setText(label)

    def set_models(self, names: list[str]) -> None:
        """One k and one w row per model; values already set for kept rows stay."""
        if names == self.model_names:
            return
        old = self.bounds()
        for key in list(self.spins):
            low, high = self.spins.pop(key)
            for widget in (low, high, self.labels.pop(key)):
                self.grid.removeWidget(widget)
                widget.hide()
                widget.deleteLater()
        self.model_names = list(names)
        for row, param in enumerate(search_params(len(names)), start=1):
            key = param.name
            lo_ok, hi_ok = param.range
            pair = []
            for value in old.get(key, (lo_ok, hi_ok)):
                spin = QDoubleSpinBox()
                spin.setRange(lo_ok, hi_ok)
                spin.setDecimals(3)
                spin.setSingleStep(0.05)
                spin.setValue(value)
                spin.valueChanged.connect(lambda _: self.changed.emit())
                pair.append(spin)
            self.spins[key] = (pair[0], pair[1])
            self.labels[key] = QLabel()
            self.grid.addWidget(self.labels[key], row, 0)
            self.grid.addWidget(pair[0], row, 1)
            self.grid.addWidget(pair[1], row, 2)
        self.grid.removeWidget(self.message)
        self.grid.addWidget(self.message, len(self.spins) + 1, 0, 1, 3)
        self._relabel()
        self.changed.emit()

    def bounds(self) -> dict[str, tuple[float, float]]:
        return {key: (low.value(), high.value()) for key, (low, high) in self.spins.items()}

    def set_bounds(self, values: dict[str, tuple[float, float]]) -> None:
        for key, (low, high) in values.items():
            if key in self.spins:
                self.spins[key][0].setValue(low)
                self.spins[key][1].setValue(high)

    def problem_keys(self) -> list[str]:
        return [key for key, (low, high) in self.bounds().items() if low > high]

    def recipe_bounds(self) -> dict[str, object]:
        """The recipe's ``evolve.bounds``: one pair, or one per model when they differ."""
        values = self.bounds()
        params = search_params(len(self.model_names))
        out: dict[str, object] = {}
        for family in FAMILIES:
            pairs = [list(values[p.name]) for p in params if p.family == family]
            same = all(pair == pairs[0] for pair in pairs)
            out[family] = pairs[0] if family not in PER_MODEL or same else pairs
        return out

    def load_recipe_bounds(self, bounds: dict[str, object]) -> None:
        n = len(self.model_names)
        values: dict[str, tuple[float, float]] = {}
        for param in search_params(n):
            value = bounds.get(param.family)
            if not isinstance(value, list | tuple) or not value:
                continue
            pairs = value if isinstance(value[0], list | tuple) else [value] * n
            index = param.index or 0
            if index < len(pairs):
                values[param.name] = (float(pairs[index][0]), float(pairs[index][1]))
        self.set_bounds(values)
