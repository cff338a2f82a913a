"""The viewer's geometry and mouse arithmetic, kept apart from the widget so it reads plainly.

Coordinates: *image* coordinates are pixel columns/rows as floats, pixel ``(c, r)`` covering
``[c, c + 1) x [r, r + 1)``; *widget* coordinates are Qt's logical pixels.
``widget = offset + image * scale`` per axis.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, Qt

from jradi_desktop.imaging import Window, XrayImage

# Dragging this many (logical) pixels changes the window by the image's whole robust value
# range: a 100-pixel drag on a CT (range ~3000 HU) moves the window by ~600 HU, on an 8-bit
# image by ~50 grey levels.
WL_DRAG_PIXELS_PER_RANGE = 500.0
ZOOM_MIN = 0.02
ZOOM_MAX = 32.0
WHEEL_STEP = 1.2  # zoom factor per wheel notch (120 eighths of a degree)
# Aspect ratios of the pixel spacing outside this band are treated as header errors.
_ASPECT_LIMITS = (0.2, 5.0)


@dataclass
class Drag:
    """A mouse drag in progress."""

    button: Qt.MouseButton
    last: QPointF  # the press position for window/level, the previous one for pan
    start: Window | None = None  # the window at the press (window/level); None: pan
    k: float = 0.0  # window units per dragged pixel


def window_sensitivity(image: XrayImage) -> float:
    """Window change per dragged pixel: proportional to the image's robust value range."""
    low, high = image.value_range
    span = high - low
    return (span if span > 0 else 1.0) / WL_DRAG_PIXELS_PER_RANGE


def dragged_window(start: Window, dx: float, dy: float, k: float) -> Window:
    """``start`` after a window/level drag of ``(dx, dy)`` pixels at ``k`` units per pixel.

    Weasis / OHIF convention: dragging right widens the window (less contrast), dragging down
    raises the level (center; the image gets darker). ``width = start.width + k * dx`` and
    ``center = start.center + k * dy``, the width kept at least 1 (the standard's minimum for
    LINEAR; images with a value range under 1 unit allow down to ``k``).
    """
    minimum = 1.0 if start.function == "LINEAR" else min(1.0, k)
    width = max(start.width + k * dx, minimum)
    return Window(start.center + k * dy, width, start.function, start.explanation)


def pixel_aspect(image: XrayImage) -> float:
    """Displayed height / width of one pixel: row spacing / column spacing, else 1."""
    if not image.pixel_spacing:
        return 1.0
    row, column = image.pixel_spacing
    if row <= 0 or column <= 0:
        return 1.0
    aspect = row / column
    return aspect if _ASPECT_LIMITS[0] <= aspect <= _ASPECT_LIMITS[1] else 1.0


def pixel_value(image: XrayImage, x: int, y: int) -> float | tuple[int, int, int] | None:
    """``image.pixels[y, x]`` (Modality LUT output), RGB for colour, None outside."""
    if not (0 <= x < image.columns and 0 <= y < image.rows):
        return None
    if image.rgb is not None:
        r, g, b = (int(v) for v in image.rgb[y, x, :3])
        return r, g, b
    return float(image.pixels[y, x])


@dataclass
class ViewTransform:
    """Zoom and pan of one image in one widget.

    ``zoom`` is screen (device) pixels per image column, so zoom 1 is "actual pixels" (1:1)
    also on high-DPI screens; ``dpr`` is the widget's device pixel ratio and ``aspect`` the
    pixel aspect ratio (rows are drawn ``aspect`` times taller than columns are wide).
    """

    zoom: float = 1.0
    offset_x: float = 0.0
    offset_y: float = 0.0
    aspect: float = 1.0
    dpr: float = 1.0

    @property
    def scale_x(self) -> float:
        """Logical widget pixels per image column."""
        return self.zoom / self.dpr

    @property
    def scale_y(self) -> float:
        """Logical widget pixels per image row."""
        return self.zoom / self.dpr * self.aspect

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.offset_x) / self.scale_x, (y - self.offset_y) / self.scale_y

    def to_widget(self, ix: float, iy: float) -> tuple[float, float]:
        return self.offset_x + ix * self.scale_x, self.offset_y + iy * self.scale_y

    def fit_zoom(self, columns: int, rows: int, width: float, height: float) -> float:
        """The zoom at which the whole image fits a ``width`` x ``height`` widget."""
        scale = min(width / columns, height / (rows * self.aspect))
        return max(scale * self.dpr, 1e-6)

    def fit(self, columns: int, rows: int, width: float, height: float) -> None:
        """Fit the whole image, centred."""
        self.zoom = self.fit_zoom(columns, rows, width, height)
        self.center(columns, rows, width, height)

    def center(self, columns: int, rows: int, width: float, height: float) -> None:
        """Centre the image at the current zoom."""
        self.offset_x = (width - columns * self.scale_x) / 2.0
        self.offset_y = (height - rows * self.scale_y) / 2.0

    def zoom_at(self, zoom: float, x: float, y: float) -> bool:
        """Set ``zoom`` (clamped) keeping the image point under widget ``(x, y)`` in place.

        Returns whether the zoom changed.
        """
        zoom = min(max(zoom, ZOOM_MIN), ZOOM_MAX)
        if zoom == self.zoom:
            return False
        ix, iy = self.to_image(x, y)
        self.zoom = zoom
        self.offset_x = x - ix * self.scale_x
        self.offset_y = y - iy * self.scale_y
        return True

    def pan(self, dx: float, dy: float) -> None:
        self.offset_x += dx
        self.offset_y += dy
