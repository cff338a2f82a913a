"""A preview of the dev set: one image (decoded off the UI thread by ``jradi_desktop.imaging``)
and its reference report, with previous / next."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QToolButton, QVBoxLayout, QWidget

from jradi_desktop.errors import JRadiError
from jradi_desktop.imaging import open_image, render

SIZE = 168


def to_qimage(array: np.ndarray) -> QImage:
    """A QImage copy of a grey or RGB uint8 array."""
    array = np.ascontiguousarray(array)
    rows, columns = array.shape[:2]
    fmt = QImage.Format.Format_Grayscale8 if array.ndim == 2 else QImage.Format.Format_RGB888
    return QImage(array.data, columns, rows, array.strides[0], fmt).copy()


class ImagePreview(QWidget):
    loaded = Signal(str, object)  # the image path, QImage | error text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[tuple[Path, str]] = []
        self.index = 0
        self.image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.image.setFixedSize(SIZE, SIZE)
        self.image.setStyleSheet("background: #111; color: #ddd;")
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setFixedHeight(SIZE - 28)
        self.caption = QLabel(wordWrap=True)
        self.previous = QToolButton(text="◀")
        self.next = QToolButton(text="▶")
        self.position = QLabel()
        nav = QHBoxLayout()
        nav.addWidget(self.previous)
        nav.addWidget(self.position)
        nav.addWidget(self.next)
        nav.addWidget(self.caption, 1)
        right = QVBoxLayout()
        right.addWidget(self.text, 1)
        right.addLayout(nav)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.image)
        layout.addLayout(right, 1)
        self.previous.clicked.connect(lambda: self.show_row(self.index - 1))
        self.next.clicked.connect(lambda: self.show_row(self.index + 1))
        self.loaded.connect(self._loaded)
        self.setVisible(False)

    def retranslate(self) -> None:
        self.previous.setToolTip(self.tr("前の例"))
        self.next.setToolTip(self.tr("次の例"))
        self.text.setPlaceholderText(self.tr("参照レポート"))

    def set_rows(self, rows: list[tuple[Path, str]]) -> None:
        if rows == self.rows:
            return
        self.rows = list(rows)
        self.setVisible(bool(rows))
        self.show_row(0)

    def show_row(self, index: int) -> None:
        if not self.rows:
            return
        self.index = index % len(self.rows)
        path, report = self.rows[self.index]
        self.position.setText(f"{self.index + 1} / {len(self.rows)}")
        self.caption.setText(path.name)
        self.text.setPlainText(report)
        self.image.setPixmap(QPixmap())
        self.image.setText("…")
        threading.Thread(target=self._load, args=(path,), daemon=True).start()

    def _load(self, path: Path) -> None:
        try:
            array = render(open_image(path))
            image = to_qimage(array).scaled(
                SIZE, SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )  # fmt: skip
            self.loaded.emit(str(path), image)
        except (JRadiError, OSError, ValueError) as exc:
            self.loaded.emit(str(path), f"{type(exc).__name__}")
        except RuntimeError:  # the widget was deleted while decoding
            pass

    def _loaded(self, path: str, result: object) -> None:
        if not self.rows or str(self.rows[self.index][0]) != path:
            return  # another row is shown now
        if isinstance(result, QImage):
            self.image.setPixmap(QPixmap.fromImage(result))
        else:
            self.image.setText(self.tr("表示できません"))
            self.image.setToolTip(str(result))
