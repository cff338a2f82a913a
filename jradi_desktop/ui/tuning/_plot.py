"""A small custom-painted plot: one value per trial or step, and the best so far.

QtCharts is not part of PySide6-Essentials, and a plot of a few thousand points needs no
more than ``QPainter``: points (or a line), a best-so-far step line, nice ticks and a legend.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

POINT = QColor("#1f77b4")
BEST = QColor("#d62728")
GRID = QColor("#e3e3e3")
AXIS = QColor("#555555")
MARGINS = (56, 26, 14, 38)  # left, top, right, bottom


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round numbers covering [low, high] (1, 2, 5 times a power of ten)."""
    if not math.isfinite(low) or not math.isfinite(high) or high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks, value = [], first
    while value <= high + step * 1e-6:
        ticks.append(round(value, 12))
        value += step
    return ticks


def best_so_far(values: Iterable[float], mode: str = "max") -> list[float]:
    out: list[float] = []
    pick = max if mode == "max" else min
    for value in values:
        out.append(value if not out else pick(out[-1], value))
    return out


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.001:
        return f"{value:.2g}"
    return f"{value:.4g}"


class ScorePlot(QWidget):
    """``add_point(x, y)`` and a repaint; ``best`` is "max", "min" or None (no best line);
    ``line`` joins the points (a loss curve) instead of drawing dots (trial scores)."""

    def __init__(
        self, best: str | None = "max", line: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.best = best
        self.line = line
        self.points: list[tuple[float, float]] = []
        self.title = ""
        self.x_label = ""
        self.y_label = ""
        self.legend = ("", "")  # (points, best)
        self.empty_text = ""
        self.setMinimumHeight(170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(420, 240)

    # -- data -------------------------------------------------------------------------------
    def set_labels(
        self, title: str, x_label: str, y_label: str, legend: tuple[str, str], empty: str
    ) -> None:
        self.title, self.x_label, self.y_label = title, x_label, y_label
        self.legend, self.empty_text = legend, empty
        self.update()

    def add_point(self, x: float, y: float) -> None:
        if math.isfinite(y):
            self.points.append((float(x), float(y)))
            self.points.sort(key=lambda p: p[0])
            self.update()

    def set_points(self, points: Iterable[tuple[float, float]]) -> None:
        self.points = sorted((float(x), float(y)) for x, y in points if math.isfinite(y))
        self.update()

    def clear(self) -> None:
        self.points = []
        self.update()

    def best_line(self) -> list[float]:
        return best_so_far([y for _, y in self.points], self.best or "max")

    # -- drawing ----------------------------------------------------------------------------
    def _ranges(self) -> tuple[float, float, float, float]:
        xs = [x for x, _ in self.points]
        ys = [y for _, y in self.points]
        x0, x1 = min(xs), max(xs)
        pad = max((x1 - x0) * 0.02, 0.5)
        x0, x1 = x0 - pad, x1 + pad
        y0, y1 = min(ys), max(ys)
        pad = (y1 - y0) * 0.08 or max(abs(y1) * 0.1, 0.01)
        return x0, x1, y0 - pad, y1 + pad

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        left, top, right, bottom = MARGINS
        area = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        painter.setPen(AXIS)
        painter.drawText(QRectF(left, 2, area.width(), top - 4),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         self.title)  # fmt: skip
        if not self.points:
            painter.setPen(QColor("#888888"))
            painter.drawRect(area)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, self.empty_text)
            painter.end()
            return
        x0, x1, y0, y1 = self._ranges()

        def to_screen(x: float, y: float) -> QPointF:
            sx = area.left() + (x - x0) / (x1 - x0) * area.width()
            sy = area.bottom() - (y - y0) / (y1 - y0) * area.height()
            return QPointF(sx, sy)

        metrics = painter.fontMetrics()
        for value in nice_ticks(y0, y1, 6):
            y = to_screen(x0, value).y()
            painter.setPen(GRID)
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(AXIS)
            text = _label(value)
            painter.drawText(QPointF(area.left() - metrics.horizontalAdvance(text) - 5,
                                     y + metrics.ascent() / 2 - 1), text)  # fmt: skip
        x_ticks = [v for v in nice_ticks(x0, x1, 8) if float(v).is_integer()]
        for value in x_ticks:
            x = to_screen(value, y0).x()
            painter.setPen(GRID)
            painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
            painter.setPen(AXIS)
            text = _label(value)
            painter.drawText(QPointF(x - metrics.horizontalAdvance(text) / 2,
                                     area.bottom() + metrics.ascent() + 3), text)  # fmt: skip
        painter.setPen(AXIS)
        painter.drawRect(area)
        painter.drawText(QRectF(area.left(), area.bottom() + metrics.height() + 2, area.width(),
                                metrics.height() + 2), Qt.AlignmentFlag.AlignHCenter,
                         self.x_label)  # fmt: skip
        painter.save()
        painter.translate(12, area.center().y())
        painter.rotate(-90)
        painter.drawText(QRectF(-area.height() / 2, -metrics.height() + 4, area.height(),
                                metrics.height() + 2), Qt.AlignmentFlag.AlignHCenter,
                         self.y_label)  # fmt: skip
        painter.restore()

        painter.setClipRect(area.adjusted(-4, -4, 4, 4))
        screen = [to_screen(x, y) for x, y in self.points]
        if self.line:
            painter.setPen(QPen(POINT, 1.6))
            painter.drawPolyline(QPolygonF(screen))
        else:
            painter.setPen(QPen(POINT.darker(120), 1))
            painter.setBrush(POINT)
            radius = 3.2 if len(screen) < 200 else 2.0
            for point in screen:
                painter.drawEllipse(point, radius, radius)
        if self.best is not None:
            steps = QPolygonF()
            for (x, _), value in zip(self.points, self.best_line(), strict=True):
                point = to_screen(x, value)
                if steps.size():
                    steps.append(QPointF(point.x(), steps.last().y()))
                steps.append(point)
            painter.setPen(QPen(BEST, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPolyline(steps)
        painter.setClipping(False)
        self._draw_legend(painter, area)
        painter.end()

    def _draw_legend(self, painter: QPainter, area: QRectF) -> None:
        """One row in the top margin, right-aligned: it never hides a point."""
        entries = [(POINT, self.legend[0], not self.line)]
        if self.best is not None:
            entries.append((BEST, self.legend[1], False))
        metrics = painter.fontMetrics()
        y = area.top() / 2 + 1
        x = area.right()
        for colour, text, dot in reversed(entries):
            x -= metrics.horizontalAdvance(text)
            painter.setPen(AXIS)
            painter.drawText(QPointF(x, y + metrics.ascent() / 2 - 1), text)
            x -= 22
            if dot:
                painter.setPen(colour)
                painter.setBrush(colour)
                painter.drawEllipse(QPointF(x + 9, y), 3, 3)
            else:
                painter.setPen(QPen(colour, 2))
                painter.drawLine(QPointF(x + 2, y), QPointF(x + 17, y))
            x -= 14
