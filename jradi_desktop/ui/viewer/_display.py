"""What the viewer puts on screen: the visible part of the image, near screen resolution.

A window change re-renders only what is seen, so its cost follows the widget's size, not the
detector's: for a zoomed-out view the image is first area-averaged by an integer factor (a
*level*, built once per factor and kept), for a zoomed-in view only the visible rectangle of
the full-resolution pixels is rendered. Each tile is ``render(level, window, invert)`` of a
view into the level's pixels -- elementwise, so it equals the same rectangle of the full
render at level 1 -- and the QImage drawn points into that uint8 buffer without a copy.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QImage

from jradi_desktop.imaging import Window, XrayImage, render

MAX_FACTOR = 64
Bounds = tuple[int, int, int, int]  # x0, y0, x1, y1 (end exclusive), in level pixels


@dataclass(frozen=True, eq=False)
class Tile:
    """A rendered uint8 buffer and the QImage that points into it: one lifetime for both."""

    array: np.ndarray
    qimage: QImage
    factor: int
    bounds: Bounds
    key: tuple[object, ...]


def wrap(array: np.ndarray) -> QImage:
    """A QImage over ``array``'s memory (grey or RGB uint8); keep ``array`` while it lives."""
    rows, columns = array.shape[:2]
    fmt = QImage.Format.Format_Grayscale8 if array.ndim == 2 else QImage.Format.Format_RGB888
    return QImage(array.data, columns, rows, array.strides[0], fmt)


def box_reduce(values: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor`` x ``factor`` blocks (float32); a partial last row/column is dropped."""
    rows, columns = values.shape[0] // factor, values.shape[1] // factor
    total = np.zeros((rows, columns, *values.shape[2:]), dtype=np.float32)
    for dy in range(factor):
        for dx in range(factor):
            total += values[dy : rows * factor : factor, dx : columns * factor : factor]
    total *= np.float32(1.0 / (factor * factor))
    return total


class DisplaySource:
    """Levels and the current tile of one image."""

    def __init__(self, image: XrayImage) -> None:
        self.image = image
        self._levels: dict[int, XrayImage] = {1: image}
        self._tile: Tile | None = None

    def factor(self, zoom_x: float, zoom_y: float) -> int:
        """The averaging factor for a zoom (screen pixels per image pixel): the level is
        drawn at a scale between about 0.67 and 1.5, never far below 1 where bilinear
        drawing would skip pixels, nor far above where detail would be lost."""
        zoom = max(zoom_x, zoom_y)
        if zoom >= 2.0 / 3.0:
            return 1
        largest = min(self.image.rows, self.image.columns, MAX_FACTOR)
        return min(max(round(1.0 / zoom), 1), largest)

    def level(self, factor: int) -> XrayImage:
        """``image`` area-averaged by ``factor`` (built on first use, then kept)."""
        if factor not in self._levels:
            rgb = self.image.rgb
            reduced_rgb = None
            if rgb is not None:
                reduced_rgb = np.rint(box_reduce(rgb, factor)).astype(np.uint8)
            self._levels[factor] = dataclasses.replace(
                self.image, pixels=box_reduce(self.image.pixels, factor), rgb=reduced_rgb
            )
        return self._levels[factor]

    def effective_window(self, window: Window | None) -> Window | None:
        """The window to render a part of the image with: the header VOI LUT (None) stays
        None, the header's default window is made explicit (the automatic window of a part
        would differ from the whole image's)."""
        if window is not None or self.image.voi_luts or self.image.is_colour:
            return window
        return self.image.default_window

    def tile(
        self, factor: int, bounds: Bounds, window: Window | None, invert: bool, generation: int
    ) -> Tile:
        """``render`` of ``bounds`` of level ``factor`` (cached while the arguments repeat)."""
        key = (factor, bounds, generation)
        if self._tile is not None and self._tile.key == key:
            return self._tile
        x0, y0, x1, y1 = bounds
        level = self.level(factor)
        part = dataclasses.replace(
            level,
            pixels=level.pixels[y0:y1, x0:x1],
            rgb=level.rgb[y0:y1, x0:x1] if level.rgb is not None else None,
        )
        array = np.ascontiguousarray(render(part, self.effective_window(window), invert))
        self._tile = Tile(array, wrap(array), factor, bounds, key)
        return self._tile

    def visible_bounds(
        self, factor: int, image_rect: tuple[float, float, float, float]
    ) -> Bounds | None:
        """Level pixels covering ``image_rect`` (x0, y0, x1, y1 in image pixels) plus one
        pixel of margin for bilinear drawing, clipped; None when nothing is visible."""
        level = self.level(factor)
        x0, y0, x1, y1 = (v / factor for v in image_rect)
        bounds = (
            max(math.floor(x0) - 1, 0),
            max(math.floor(y0) - 1, 0),
            min(math.ceil(x1) + 1, level.columns),
            min(math.ceil(y1) + 1, level.rows),
        )
        if bounds[0] >= bounds[2] or bounds[1] >= bounds[3]:
            return None
        return bounds
