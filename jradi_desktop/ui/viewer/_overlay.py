"""The viewer's corner text: what it says (:func:`corner_text`, no painting) and how it is
drawn (:func:`paint_corners`: light text with a dark outline, legible on any image).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter

from jradi_desktop.imaging import Window, XrayImage

OVERLAY_MODES = ("full", "anonymised", "hidden")
LANGUAGES = ("ja", "en")
CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")

LABELS: dict[str, dict[str, str]] = {
    "ja": {
        "name": "患者名",
        "id": "患者ID",
        "date": "検査日",
        "file": "ファイル",
        "frame": "フレーム",
        "wlww": "WL/WW",
        "zoom": "ズーム",
        "inverted": "白黒反転",
        "pixel": "画素",
        "value": "値",
        "anonymous": "匿名",
        "empty": "画像をここにドロップ、または ファイル → 開く",
    },
    "en": {
        "name": "Patient",
        "id": "ID",
        "date": "Study date",
        "file": "File",
        "frame": "Frame",
        "wlww": "WL/WW",
        "zoom": "Zoom",
        "inverted": "Inverted",
        "pixel": "Pixel",
        "value": "Value",
        "anonymous": "Anonymous",
        "empty": "Drop an image here, or File → Open",
    },
}
HIDDEN_ID = "***"
# Families tried in order; Qt falls back to the system's font for anything missing.
FONT_FAMILIES = ["Noto Sans CJK JP", "Yu Gothic UI", "Meiryo", "Hiragino Sans", "sans-serif"]

PixelValue = float | tuple[int, int, int] | None


@dataclass(frozen=True)
class OverlayState:
    """What the overlay shows besides the image's metadata."""

    window: Window | None  # None: the header's VOI LUT is shown
    zoom: float
    inverted: bool
    hover: tuple[int, int, PixelValue] | None = None  # image column, row, value


def display_name(person_name: str) -> str:
    """A DICOM Person Name for the screen: the ideographic (kanji) group when present, else
    the alphabetic one, components separated by spaces (``山田^太郎`` -> ``山田 太郎``)."""
    groups = person_name.split("=")
    name = groups[1] if len(groups) > 1 and groups[1].strip() else groups[0]
    return " ".join(part for part in name.replace("^", " ").split())


def display_date(date: str) -> str:
    """DICOM DA ``YYYYMMDD`` as ``YYYY/MM/DD`` (Japanese order); anything else unchanged."""
    date = date.strip()
    if len(date) == 8 and date.isdigit():
        return f"{date[:4]}/{date[4:6]}/{date[6:]}"
    return date


def format_number(value: float) -> str:
    """A window or pixel value, short: integers as such, else four significant digits."""
    if float(value).is_integer() or abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.4g}"


def format_value(value: PixelValue) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return "RGB " + ", ".join(str(v) for v in value)
    return format_number(value)


def corner_text(
    image: XrayImage | None, state: OverlayState, mode: str = "full", language: str = "ja"
) -> dict[str, list[str]]:
    """The lines of each corner (keys :data:`CORNERS`), top to bottom.

    ``mode`` "anonymised" replaces the patient's name with 匿名 / Anonymous and the ID with
    ``***`` and leaves out the file name (which often carries the name); "hidden" shows
    nothing.
    """
    corners: dict[str, list[str]] = {corner: [] for corner in CORNERS}
    if image is None or mode == "hidden":
        return corners
    t = LABELS[language]
    top_left, top_right = corners["top_left"], corners["top_right"]
    anonymised = mode == "anonymised"
    name = display_name(image.patient_name)
    if name or image.patient_id or image.file_format == "DICOM":
        top_left.append(f"{t['name']}: {t['anonymous'] if anonymised else name}")
        top_left.append(f"{t['id']}: {HIDDEN_ID if anonymised else image.patient_id}")
    elif image.source is not None and not anonymised:
        top_left.append(f"{t['file']}: {image.source.name}")
    if image.study_date:
        top_right.append(f"{t['date']}: {display_date(image.study_date)}")
    kind = "  ".join(v for v in (image.modality, image.view_position) if v)
    if kind:
        top_right.append(kind)
    if image.frames > 1:
        top_right.append(f"{t['frame']}: {image.frame + 1}/{image.frames}")
    bottom_left = corners["bottom_left"]
    if state.window is None:
        bottom_left.append(f"{t['wlww']}: VOI LUT")
    else:
        center, width = format_number(state.window.center), format_number(state.window.width)
        bottom_left.append(f"{t['wlww']}: {center} / {width}")
    bottom_left.append(f"{t['zoom']}: {state.zoom * 100:.0f}%")
    if state.inverted:
        bottom_left.append(t["inverted"])
    if state.hover is not None and state.hover[2] is not None:
        x, y, value = state.hover
        corners["bottom_right"].append(f"{t['pixel']} ({x}, {y})")
        corners["bottom_right"].append(f"{t['value']}: {format_value(value)}")
    corners["bottom_right"].append(f"{image.columns} × {image.rows}")
    return corners


def overlay_font(point_size: float = 10.5) -> QFont:
    font = QFont()
    font.setFamilies(FONT_FAMILIES)
    font.setPointSizeF(point_size)
    font.setStyleStrategy(QFont.StyleStrategy.PreferAntialias)
    return font


_TEXT = QColor(240, 240, 240)
_OUTLINE = QColor(0, 0, 0, 220)
_OUTLINE_OFFSETS = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]
MARGIN = 8.0


def paint_corners(
    painter: QPainter, rect: QRectF, corners: dict[str, list[str]], font: QFont
) -> None:
    """Draw each corner's lines inside ``rect``, outlined so they read on white and black."""
    painter.save()
    painter.setFont(font)
    metrics = QFontMetricsF(font)
    line = metrics.lineSpacing()
    for corner, lines in corners.items():
        if not lines:
            continue
        top = corner.startswith("top")
        right = corner.endswith("right")
        y = rect.top() + MARGIN if top else rect.bottom() - MARGIN - line * len(lines)
        for text in lines:
            width = metrics.horizontalAdvance(text)
            x = rect.right() - MARGIN - width if right else rect.left() + MARGIN
            _outlined(painter, QPointF(x, y + metrics.ascent()), text)
            y += line
    painter.restore()


def paint_centered(painter: QPainter, rect: QRectF, lines: list[str], font: QFont) -> None:
    """Draw ``lines`` centred in ``rect`` (the empty state), the first line larger."""
    painter.save()
    big = QFont(font)
    big.setPointSizeF(font.pointSizeF() * 1.35)
    rest = QFontMetricsF(font).lineSpacing() * (len(lines) - 1)
    height = QFontMetricsF(big).lineSpacing() + rest
    y = rect.center().y() - height / 2.0
    for i, text in enumerate(lines):
        current = big if i == 0 else font
        painter.setFont(current)
        painter.setPen(QColor(210, 210, 210) if i == 0 else QColor(150, 150, 150))
        spacing = QFontMetricsF(current).lineSpacing()
        band = QRectF(rect.left(), y, rect.width(), spacing)
        painter.drawText(band, Qt.AlignmentFlag.AlignCenter, text)
        y += spacing
    painter.restore()


def _outlined(painter: QPainter, origin: QPointF, text: str) -> None:
    painter.setPen(_OUTLINE)
    for dx, dy in _OUTLINE_OFFSETS:
        painter.drawText(origin + QPointF(dx, dy), text)
    painter.setPen(_TEXT)
    painter.drawText(origin, text)
