"""``ThumbnailStrip``: a horizontal row of small renders of the opened images or frames."""

from __future__ import annotations

import dataclasses

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from jradi_desktop.imaging import XrayImage, render

THUMBNAIL_SIZE = 96
# Dark like the viewer beside it; the selected item is framed, its icon left untinted.
STYLE = """
QListWidget { background: #18181b; color: #d4d4d8; border: none; }
QListWidget::item { border: 2px solid transparent; border-radius: 4px; padding: 2px; }
QListWidget::item:selected { background: #1e3a5f; border-color: #3b82f6; color: #ffffff; }
QListWidget::item:hover:!selected { background: #27272a; }
"""


def thumbnail(image: XrayImage, size: int = THUMBNAIL_SIZE) -> QImage:
    """``image`` at its header window, at most ``size`` pixels on its long side.

    Large images are decimated to about twice the size before rendering (so a thumbnail of
    a 4k detector image costs a fraction of a full render), then area-averaged by Qt.
    """
    step = max(max(image.rows, image.columns) // (2 * size), 1)
    if step > 1:
        rgb = image.rgb[::step, ::step] if image.rgb is not None else None
        image = dataclasses.replace(image, pixels=image.pixels[::step, ::step], rgb=rgb)
    out = np.ascontiguousarray(render(image))
    rows, columns = out.shape[:2]
    fmt = QImage.Format.Format_Grayscale8 if out.ndim == 2 else QImage.Format.Format_RGB888
    full = QImage(out.data, columns, rows, out.strides[0], fmt)
    # scaled() returns a new image that owns its pixels, so ``out`` may go after this.
    return full.scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )


class ThumbnailStrip(QListWidget):
    """Thumbnails with their labels (file names) in one scrollable row.

    Hidden while it holds fewer than two images. ``selected(int)`` gives the row clicked or
    chosen with the arrow keys.
    """

    selected = Signal(int)

    def __init__(self, parent: QWidget | None = None, icon_size: int = THUMBNAIL_SIZE) -> None:
        super().__init__(parent)
        self._icon_size = icon_size
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setSpacing(4)
        self.setIconSize(QSize(icon_size, icon_size))
        self.setStyleSheet(STYLE)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        label_height = self.fontMetrics().lineSpacing()
        scrollbar = self.horizontalScrollBar().sizeHint().height()
        self.setFixedHeight(icon_size + label_height + scrollbar + 24)
        self.currentRowChanged.connect(self._on_row)
        self.setHidden(True)

    def add(self, image: XrayImage, label: str) -> int:
        """Append ``image`` labelled ``label``; returns its row."""
        pixmap = QPixmap.fromImage(thumbnail(image, self._icon_size))
        icon = QIcon(pixmap)
        icon.addPixmap(pixmap, QIcon.Mode.Selected)  # no selection tint over the image
        item = QListWidgetItem(icon, label)
        item.setToolTip(str(image.source) if image.source is not None else label)
        item.setSizeHint(QSize(self._icon_size + 16, self.height() - 16))
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
        self.addItem(item)
        self.setHidden(self.count() < 2)
        return self.count() - 1

    def clear(self) -> None:
        super().clear()
        self.setHidden(True)

    def _on_row(self, row: int) -> None:
        if row >= 0:
            self.selected.emit(row)
