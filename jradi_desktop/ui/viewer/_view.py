"""``ImageViewer``: one X-ray, window/level, zoom and pan with the mouse, PACS-style overlay.

A custom-painted QWidget rather than a QGraphicsView: one image and some text need no scene,
and a window change costs one render of the visible part plus one draw (see ``_display``).
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from jradi_desktop.imaging import Window, XrayImage, render, window_presets
from jradi_desktop.ui.viewer._display import DisplaySource, Tile, wrap
from jradi_desktop.ui.viewer._interaction import (
    WHEEL_STEP,
    Drag,
    ViewTransform,
    dragged_window,
    pixel_aspect,
    pixel_value,
    window_sensitivity,
)
from jradi_desktop.ui.viewer._overlay import (
    LABELS,
    LANGUAGES,
    OVERLAY_MODES,
    OverlayState,
    PixelValue,
    corner_text,
    overlay_font,
    paint_centered,
    paint_corners,
)

BACKGROUND = QColor(0, 0, 0)
EMPTY_BACKGROUND = QColor(24, 24, 27)


class ImageViewer(QWidget):
    """Shows one :class:`XrayImage` as ``render(image, window, invert)``.

    Mouse (Weasis / OHIF conventions):

    - left-drag: window/level. Dragging right by ``dx`` pixels widens the window by
      ``k * dx``; dragging down by ``dy`` raises the level (center) by ``k * dy`` (the image
      darkens). ``k`` is the image's robust value range / 500 per pixel; width stays >= 1.
    - wheel: zoom by 1.2x per notch about the cursor (the image point under it stays put).
    - middle- or right-drag: pan. Double-click: fit to the window.

    Keys: F fit, 1 actual pixels (1:1), I invert, R reset.

    Signals: ``windowChanged(Window)``, ``zoomChanged(float)`` (screen pixels per image pixel),
    ``pixelHovered(x, y, value)`` with the image column/row under the cursor and the
    Modality LUT value there (``image.pixels``), an ``(r, g, b)`` tuple for colour images, or
    None outside the image (``(-1, -1, None)`` when the cursor leaves the widget).
    """

    windowChanged = Signal(object)
    zoomChanged = Signal(float)
    pixelHovered = Signal(int, int, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(160, 120)
        self._image: XrayImage | None = None
        self._window: Window | None = None  # None: the header's VOI (what render(image) shows)
        self._inverted = False
        self._source: DisplaySource | None = None
        self._generation = 0  # counts window / invert changes: the tile cache's key
        self._full: tuple[int, np.ndarray] | None = None  # display_array(), on demand
        self._tile: Tile | None = None  # what the last paint drew (kept alive with it)
        self._view = ViewTransform()
        self._fitted = True  # follow the widget's size until the user zooms or pans
        self._drag: Drag | None = None
        self._hover: tuple[int, int, PixelValue] | None = None
        self._overlay_mode = "full"
        self._language = "ja"
        self._font = overlay_font()

    # --- image and window -------------------------------------------------------------------

    def set_image(self, image: XrayImage) -> None:
        """Show ``image`` at its header window, fitted, not inverted."""
        self._image = image
        self._source = DisplaySource(image)
        self._window = None
        self._inverted = False
        self._hover = None
        self._view.aspect = pixel_aspect(image)
        self._rerender()
        self.fit_to_window()
        self.windowChanged.emit(self.window())

    def clear(self) -> None:
        """Back to the empty state."""
        self._image = None
        self._source = None
        self._full = None
        self._tile = None
        self._hover = None
        self.update()

    def image(self) -> XrayImage | None:
        return self._image

    def window(self) -> Window | None:
        """The window shown; the header's default window while the header VOI is shown (for an
        image with a VOI LUT Sequence, the LUT is displayed and this is where a drag starts)."""
        if self._image is None:
            return None
        return self._window if self._window is not None else self._image.default_window

    def set_window(self, window: Window) -> None:
        if self._image is None or window == self._window:
            return
        self._window = window
        self._rerender()
        self.windowChanged.emit(window)

    def presets(self) -> dict[str, Window]:
        """The window presets of the current image (``window_presets``), in menu order."""
        return window_presets(self._image) if self._image is not None else {}

    def apply_preset(self, name: str) -> None:
        """Apply a preset by name: header, auto, lung, mediastinum, bone."""
        if self._image is None:
            return
        presets = self.presets()
        key = name.strip().lower()
        if key == "header" and key not in presets:  # a VOI LUT or no header window at all
            self._set_header_voi()
            return
        if key not in presets:
            raise ValueError(f"Unknown window preset {name!r}; valid presets: {', '.join(presets)}")
        self.set_window(presets[key])

    def is_inverted(self) -> bool:
        return self._inverted

    def set_inverted(self, inverted: bool) -> None:
        if inverted != self._inverted:
            self._inverted = inverted
            if self._image is not None:
                self._rerender()

    def toggle_invert(self) -> None:
        self.set_inverted(not self._inverted)

    def reset(self) -> None:
        """Header window, fitted, not inverted."""
        self._inverted = False
        self._set_header_voi(force=True)
        self.fit_to_window()

    def display_array(self) -> np.ndarray | None:
        """The whole image as shown: ``render(image, window, invert)`` at full resolution
        (rendered on demand and kept until the window changes; do not modify it). The screen
        draws the visible part of the same render, see :mod:`._display`."""
        if self._source is None:
            return None
        if self._full is None or self._full[0] != self._generation:
            window = self._source.effective_window(self._window)
            array = np.ascontiguousarray(render(self._source.image, window, self._inverted))
            self._full = (self._generation, array)
        return self._full[1]

    def display_image(self) -> QImage | None:
        """:meth:`display_array` as a QImage that owns its pixels."""
        array = self.display_array()
        return wrap(array).copy() if array is not None else None

    def _set_header_voi(self, force: bool = False) -> None:
        if self._image is None or (self._window is None and not force):
            return
        self._window = None
        self._rerender()
        self.windowChanged.emit(self.window())

    def _rerender(self) -> None:
        self._generation += 1
        self._full = None
        self.update()

    # --- zoom and pan -----------------------------------------------------------------------

    def zoom(self) -> float:
        """Screen pixels per image pixel (1.0 = actual pixels)."""
        return self._view.zoom

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom about ``anchor`` (widget coordinates; default the centre), clamped."""
        if self._image is None:
            return
        anchor = anchor if anchor is not None else QRectF(self.rect()).center()
        self._fitted = False
        if self._view.zoom_at(zoom, anchor.x(), anchor.y()):
            self._changed_view()

    def fit_to_window(self) -> None:
        self._fitted = True
        if self._image is not None:
            self._view.dpr = self.devicePixelRatioF()
            self._view.fit(self._image.columns, self._image.rows, self.width(), self.height())
            self._changed_view()

    def actual_size(self) -> None:
        """1:1: one image pixel per screen pixel, about the centre of the widget."""
        self.set_zoom(1.0)

    def pan(self, dx: float, dy: float) -> None:
        """Move the image by ``(dx, dy)`` widget pixels."""
        if self._image is not None:
            self._fitted = False
            self._view.pan(dx, dy)
            self.update()

    def map_to_image(self, point: QPointF) -> tuple[float, float]:
        """Widget point -> image (column, row) as floats."""
        return self._view.to_image(point.x(), point.y())

    def map_from_image(self, x: float, y: float) -> QPointF:
        """Image (column, row) -> widget point."""
        return QPointF(*self._view.to_widget(x, y))

    def _changed_view(self) -> None:
        self.update()
        self.zoomChanged.emit(self._view.zoom)

    # --- overlay ----------------------------------------------------------------------------

    def set_overlay_mode(self, mode: str) -> None:
        """Overlay mode: "full", "anonymised" (匿名 / *** for the name and ID) or "hidden"."""
        if mode not in OVERLAY_MODES:
            raise ValueError(f"Unknown overlay mode {mode!r}; valid modes: {OVERLAY_MODES}")
        self._overlay_mode = mode
        self.update()

    def set_language(self, language: str) -> None:
        """Overlay labels in "ja" (default) or "en"."""
        if language not in LANGUAGES:
            raise ValueError(f"Unknown language {language!r}; valid: {LANGUAGES}")
        self._language = language
        self.update()

    def overlay_text(self) -> dict[str, list[str]]:
        """The lines the overlay draws, per corner (top_left, top_right, bottom_left, ...)."""
        shown = self._window
        if shown is None and self._image is not None and not self._image.voi_luts:
            shown = self._image.default_window  # None below: "VOI LUT"
        state = OverlayState(shown, self._view.zoom, self._inverted, self._hover)
        return corner_text(self._image, state, self._overlay_mode, self._language)

    # --- painting ---------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = QRectF(self.rect())
        if self._source is None:
            painter.fillRect(rect, EMPTY_BACKGROUND)
            lines = [LABELS["ja"]["empty"], LABELS["en"]["empty"]]
            paint_centered(painter, rect, lines, self._font)
            return
        painter.fillRect(rect, BACKGROUND)
        view = self._view
        factor = self._source.factor(view.zoom, view.zoom * view.aspect)
        seen = (*view.to_image(0.0, 0.0), *view.to_image(rect.width(), rect.height()))
        bounds = self._source.visible_bounds(factor, seen)
        if bounds is not None:
            self._tile = self._source.tile(
                factor, bounds, self._window, self._inverted, self._generation
            )
            painter.save()
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.translate(view.offset_x, view.offset_y)
            painter.scale(view.scale_x * factor, view.scale_y * factor)
            painter.drawImage(QPointF(bounds[0], bounds[1]), self._tile.qimage)
            painter.restore()
        paint_corners(painter, rect, self.overlay_text(), self._font)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._image is None:
            return
        if self._fitted:
            self.fit_to_window()
        else:  # keep the image point at the centre where it was
            old, new = event.oldSize(), event.size()
            if old.isValid():
                self._view.pan((new.width() - old.width()) / 2, (new.height() - old.height()) / 2)

    # --- mouse and keys ---------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if self._image is None or self._drag is not None:
            return
        if button == Qt.MouseButton.LeftButton:
            k = window_sensitivity(self._image)
            self._drag = Drag(button, event.position(), self.window(), k)
            self.setCursor(Qt.CursorShape.SizeAllCursor)
        elif button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton):
            self._drag = Drag(button, event.position())
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        position = event.position()
        drag = self._drag
        if drag is not None:
            delta = position - drag.last
            if drag.start is not None:  # window/level, from the window at the press
                self.set_window(dragged_window(drag.start, delta.x(), delta.y(), drag.k))
            else:
                self.pan(delta.x(), delta.y())
                drag.last = position
        self._update_hover(position)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None and event.button() == self._drag.button:
            self._drag = None
            self.unsetCursor()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.fit_to_window()
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120.0
        if self._image is not None and notches:
            self.set_zoom(self._view.zoom * WHEEL_STEP**notches, event.position())
            self._update_hover(event.position())
        event.accept()

    def leaveEvent(self, event: QEvent) -> None:
        if self._hover is not None:
            self._hover = None
            self.update()
        self.pixelHovered.emit(-1, -1, None)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        actions = {
            Qt.Key.Key_F: self.fit_to_window,
            Qt.Key.Key_1: self.actual_size,
            Qt.Key.Key_I: self.toggle_invert,
            Qt.Key.Key_R: self.reset,
        }
        action = actions.get(event.key())  # an int; Qt.Key is an int enum
        if action is None or self._image is None:
            super().keyPressEvent(event)
            return
        action()
        event.accept()

    def pixel_at(self, point: QPointF) -> tuple[int, int, PixelValue]:
        """Image column, row and value under a widget point (value None outside the image)."""
        if self._image is None:
            return -1, -1, None
        fx, fy = self.map_to_image(point)
        x, y = math.floor(fx), math.floor(fy)
        return x, y, pixel_value(self._image, x, y)

    def _update_hover(self, position: QPointF) -> None:
        hover = self.pixel_at(position)
        if hover != self._hover:
            self._hover = hover
            self.update()
            self.pixelHovered.emit(*hover)
