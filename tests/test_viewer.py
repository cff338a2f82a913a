"""The X-ray viewer widget driven offscreen: display buffer, mouse, zoom, overlay, thumbnails."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from image_files import write_dicom, write_japanese_dicom
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from jradi_desktop.imaging import VoiLut, Window, XrayImage, open_image, render, window_presets
from jradi_desktop.ui.viewer import ImageViewer, ThumbnailStrip
from jradi_desktop.ui.viewer._interaction import WL_DRAG_PIXELS_PER_RANGE

pytestmark = pytest.mark.gui

COLUMNS, ROWS = 200, 100


def gradient() -> np.ndarray:
    """Every pixel different: value = 10 * column + row (0 .. 2089)."""
    rows, columns = np.mgrid[0:ROWS, 0:COLUMNS]
    return (10 * columns + rows).astype(np.uint16)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> XrayImage:
    path = tmp_path_factory.mktemp("viewer") / "chest.dcm"
    write_dicom(
        path,
        gradient(),
        WindowCenter=1000,
        WindowWidth=1500,
        PatientName="Suzuki^Hanako",
        PatientID="PID-0042",
        StudyDate="20240315",
        ViewPosition="PA",
    )
    return open_image(path)


def shown_viewer(qtbot, image: XrayImage, width: int, height: int) -> ImageViewer:
    """An :class:`ImageViewer` of ``width`` x ``height``, shown and exposed, showing ``image``."""
    widget = ImageViewer()
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_image(image)
    return widget


@pytest.fixture
def viewer(qtbot, image: XrayImage) -> ImageViewer:
    return shown_viewer(qtbot, image, 400, 300)


def mouse(widget, kind: QEvent.Type, pos: QPointF, button: Qt.MouseButton) -> None:
    buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else button
    if kind == QEvent.Type.MouseMove:
        button = Qt.MouseButton.NoButton
    global_pos = QPointF(widget.mapToGlobal(pos))
    event = QMouseEvent(kind, pos, global_pos, button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def drag(widget, start: QPointF, end: QPointF, button: Qt.MouseButton) -> None:
    mouse(widget, QEvent.Type.MouseButtonPress, start, button)
    mid = (start + end) / 2
    mouse(widget, QEvent.Type.MouseMove, mid, button)
    mouse(widget, QEvent.Type.MouseMove, end, button)
    mouse(widget, QEvent.Type.MouseButtonRelease, end, button)


def wheel(widget, pos: QPointF, notches: int) -> None:
    event = QWheelEvent(
        pos,
        QPointF(widget.mapToGlobal(pos)),
        QPoint(),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def qimage_array(qimage: QImage) -> np.ndarray:
    """Grey8 / RGB888 QImage -> a numpy copy (rows, columns[, 3]), honouring bytesPerLine."""
    channels = 1 if qimage.format() == QImage.Format.Format_Grayscale8 else 3
    raw = np.frombuffer(qimage.constBits(), np.uint8)
    rows = raw.reshape(qimage.height(), qimage.bytesPerLine())
    out = rows[:, : qimage.width() * channels].copy()  # before the QImage and its bits go
    return out if channels == 1 else out.reshape(qimage.height(), qimage.width(), 3)


def screen_grey(widget) -> np.ndarray:
    return qimage_array(widget.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8))


# --- display buffer ------------------------------------------------------------------------


def test_display_buffer_is_render_at_the_same_window(viewer: ImageViewer, image: XrayImage):
    assert viewer.window() == Window(1000, 1500)
    np.testing.assert_array_equal(viewer.display_array(), render(image, viewer.window()))
    window = Window(500, 300, "LINEAR_EXACT")
    viewer.set_window(window)
    np.testing.assert_array_equal(viewer.display_array(), render(image, window))
    np.testing.assert_array_equal(qimage_array(viewer.display_image()), render(image, window))


def test_colour_image_display_and_hover_give_rgb(qtbot):
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, np.arange(60, dtype=np.uint8)[None, :], 7
    colour = XrayImage(pixels=rgb.astype(np.float32).mean(axis=2), rgb=rgb, display_ready=True)
    widget = ImageViewer()
    qtbot.addWidget(widget)
    widget.resize(300, 200)
    widget.set_image(colour)
    np.testing.assert_array_equal(qimage_array(widget.display_image()), rgb)
    assert widget.pixel_at(widget.map_from_image(12.5, 3.5)) == (12, 3, (200, 12, 7))


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_screen_shows_the_buffer_at_every_zoom(qtbot, photometric: str):
    # 10 x 10 blocks of distinct values: block centres survive any smoothing. No header
    # window: the automatic one of the whole image must be used for every visible part.
    blocks = (np.arange(100, dtype=np.uint16).reshape(10, 10) * 40).repeat(60, 0).repeat(80, 1)
    big = XrayImage(pixels=blocks.astype(np.float32), photometric=photometric)
    widget = shown_viewer(qtbot, big, 500, 420)
    shown = widget.display_array()
    np.testing.assert_array_equal(shown, render(big))
    for zoom in (None, 0.25, 0.1, 1.0, 3.0):  # fitted (0.625), averaged levels, full-res parts
        if zoom is not None:
            widget.set_zoom(zoom)
            widget.pan(17, -9)
        screen = screen_grey(widget)
        checked = 0
        for row in range(10):
            for column in range(10):
                y, x = row * 60 + 30, column * 80 + 40
                point = widget.map_from_image(x + 0.5, y + 0.5)
                px, py = int(point.x()), int(point.y())
                if not (0 <= px < 500 and 70 <= py < 340):  # on screen, clear of the text
                    continue
                assert abs(int(screen[py, px]) - int(shown[y, x])) <= 2, (row, column, zoom)
                checked += 1
        assert checked >= 1, zoom


def test_screen_is_exact_at_one_to_one(viewer: ImageViewer, image: XrayImage):
    viewer.actual_size()  # 200 x 100 centred in 400 x 300: offset (100, 100), no overlay there
    assert viewer.map_from_image(0, 0) == QPointF(100, 100)
    screen = screen_grey(viewer)
    np.testing.assert_array_equal(screen[100:200, 100:300], render(image))


# --- mouse ---------------------------------------------------------------------------------


def test_left_drag_right_widens_and_down_raises_level(viewer: ImageViewer, image: XrayImage, qtbot):
    low, high = image.value_range
    k = (high - low) / WL_DRAG_PIXELS_PER_RANGE
    before = viewer.window()
    emitted: list[Window] = []
    viewer.windowChanged.connect(emitted.append)
    drag(viewer, QPointF(150, 150), QPointF(180, 170), Qt.MouseButton.LeftButton)
    after = viewer.window()
    assert after.width == pytest.approx(before.width + 30 * k)
    assert after.center == pytest.approx(before.center + 20 * k)
    assert emitted[-1] == after and len(emitted) == 2  # one per mouse move
    np.testing.assert_array_equal(viewer.display_array(), render(image, after))
    # Left and up the other way; the width never goes below 1.
    drag(viewer, QPointF(300, 150), QPointF(-300, 100), Qt.MouseButton.LeftButton)
    assert viewer.window().width == 1.0
    assert viewer.window().center == pytest.approx(after.center - 50 * k)


def test_wheel_zooms_about_the_cursor(viewer: ImageViewer, qtbot):
    cursor = QPointF(123.0, 87.0)
    under = viewer.map_to_image(cursor)
    zoom = viewer.zoom()
    with qtbot.waitSignal(viewer.zoomChanged) as changed:
        wheel(viewer, cursor, 2)
    assert viewer.zoom() == pytest.approx(zoom * 1.2**2)
    assert changed.args == [pytest.approx(viewer.zoom())]
    after = viewer.map_from_image(*under)
    assert abs(after.x() - cursor.x()) < 1 and abs(after.y() - cursor.y()) < 1
    wheel(viewer, QPointF(300, 40), -3)
    after = viewer.map_from_image(*viewer.map_to_image(QPointF(300, 40)))
    assert viewer.zoom() == pytest.approx(zoom * 1.2**-1)
    assert abs(after.x() - 300) < 1 and abs(after.y() - 40) < 1


@pytest.mark.parametrize("button", [Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton])
def test_right_or_middle_drag_pans(viewer: ImageViewer, button: Qt.MouseButton):
    window = viewer.window()
    origin = viewer.map_from_image(0, 0)
    drag(viewer, QPointF(100, 100), QPointF(140, 75), button)
    moved = viewer.map_from_image(0, 0)
    assert (moved.x() - origin.x(), moved.y() - origin.y()) == pytest.approx((40, -25))
    assert viewer.window() == window


def test_fit_one_to_one_and_double_click(viewer: ImageViewer, qtbot):
    fit = min(400 / COLUMNS, 300 / ROWS)
    assert viewer.zoom() == pytest.approx(fit)
    top_left, bottom_right = viewer.map_from_image(0, 0), viewer.map_from_image(COLUMNS, ROWS)
    assert (top_left.x() + bottom_right.x()) / 2 == pytest.approx(200)  # centred
    assert (top_left.y() + bottom_right.y()) / 2 == pytest.approx(150)
    centre = viewer.map_to_image(QPointF(200, 150))
    viewer.actual_size()
    assert viewer.zoom() == 1.0
    assert viewer.map_to_image(QPointF(200, 150)) == pytest.approx(centre)
    mouse(viewer, QEvent.Type.MouseButtonDblClick, QPointF(50, 50), Qt.MouseButton.LeftButton)
    assert viewer.zoom() == pytest.approx(fit)
    viewer.set_zoom(3.0)
    viewer.fit_to_window()
    assert viewer.zoom() == pytest.approx(fit)
    viewer.resize(200, 300)  # fitted views follow the widget's size
    assert viewer.zoom() == pytest.approx(1.0)


def test_pixel_aspect_from_pixel_spacing(qtbot):
    tall = XrayImage(pixels=np.zeros((50, 100), np.float32), pixel_spacing=(0.2, 0.1))
    widget = ImageViewer()
    qtbot.addWidget(widget)
    widget.resize(400, 400)
    widget.set_image(tall)
    corner = widget.map_from_image(100, 50) - widget.map_from_image(0, 0)
    assert corner.y() / corner.x() == pytest.approx(1.0)  # 100 x 0.1 mm wide, 50 x 0.2 mm high


# --- invert, presets, reset ----------------------------------------------------------------


def test_keys_fit_one_to_one_invert_reset(viewer: ImageViewer, image: XrayImage):
    fit = viewer.zoom()
    QTest.keyClick(viewer, Qt.Key.Key_1)
    assert viewer.zoom() == 1.0
    QTest.keyClick(viewer, Qt.Key.Key_F)
    assert viewer.zoom() == pytest.approx(fit)
    QTest.keyClick(viewer, Qt.Key.Key_I)
    assert viewer.is_inverted()
    viewer.apply_preset("lung")
    QTest.keyClick(viewer, Qt.Key.Key_R)
    assert not viewer.is_inverted() and viewer.window() == image.windows[0]


def test_invert_flips_the_displayed_values(viewer: ImageViewer, image: XrayImage):
    before = viewer.display_array().copy()
    viewer.toggle_invert()
    assert viewer.is_inverted()
    np.testing.assert_array_equal(viewer.display_array(), 255 - before)
    np.testing.assert_array_equal(viewer.display_array(), render(image, invert=True))
    viewer.toggle_invert()
    np.testing.assert_array_equal(viewer.display_array(), before)


def test_presets_change_the_window_and_reset_restores_the_header(
    viewer: ImageViewer, image: XrayImage, qtbot
):
    presets = window_presets(image)
    assert list(viewer.presets()) == ["header", "auto", "lung", "mediastinum", "bone"]
    for name in ("auto", "lung", "mediastinum", "bone"):
        with qtbot.waitSignal(viewer.windowChanged):
            viewer.apply_preset(name)
        assert viewer.window() == presets[name] != image.windows[0]
        np.testing.assert_array_equal(viewer.display_array(), render(image, presets[name]))
    with pytest.raises(ValueError, match="valid presets: header, auto"):
        viewer.apply_preset("brain")
    viewer.toggle_invert()
    viewer.set_zoom(5.0)
    viewer.reset()
    assert viewer.window() == image.windows[0] == Window(1000, 1500)
    assert not viewer.is_inverted()
    assert viewer.zoom() == pytest.approx(min(400 / COLUMNS, 300 / ROWS))
    np.testing.assert_array_equal(viewer.display_array(), render(image))


# --- overlay and hover ---------------------------------------------------------------------


def test_overlay_corners_and_anonymised_mode(viewer: ImageViewer):
    text = viewer.overlay_text()
    assert text["top_left"] == ["患者名: Suzuki Hanako", "患者ID: PID-0042"]
    assert text["top_right"] == ["検査日: 2024/03/15", "DX  PA"]
    assert text["bottom_left"] == ["WL/WW: 1000 / 1500", "ズーム: 200%"]
    viewer.set_overlay_mode("anonymised")
    everything = "\n".join(line for lines in viewer.overlay_text().values() for line in lines)
    assert "Suzuki" not in everything and "Hanako" not in everything
    assert "PID-0042" not in everything
    assert "患者名: 匿名" in everything and "患者ID: ***" in everything
    assert "WL/WW: 1000 / 1500" in everything
    viewer.grab()  # paints in this mode without error
    viewer.set_overlay_mode("hidden")
    assert not any(viewer.overlay_text().values())
    with pytest.raises(ValueError, match="valid modes"):
        viewer.set_overlay_mode("partial")
    viewer.set_overlay_mode("full")
    viewer.set_language("en")
    assert viewer.overlay_text()["top_left"][0] == "Patient: Suzuki Hanako"


def test_pixel_hovered_reports_the_value_under_the_cursor(
    viewer: ImageViewer, image: XrayImage, qtbot
):
    point = viewer.map_from_image(37.5, 21.5)
    with qtbot.waitSignal(viewer.pixelHovered) as hovered:
        mouse(viewer, QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton)
    assert hovered.args == [37, 21, 10 * 37 + 21]
    assert float(image.pixels[21, 37]) == 391.0
    assert viewer.overlay_text()["bottom_right"][:2] == ["画素 (37, 21)", "値: 391"]
    with qtbot.waitSignal(viewer.pixelHovered) as hovered:
        mouse(viewer, QEvent.Type.MouseMove, QPointF(200, 10), Qt.MouseButton.NoButton)
    assert hovered.args[2] is None  # above the image (letterbox)


def test_japanese_patient_name_shows_in_kanji(qtbot, tmp_path: Path):
    path = write_japanese_dicom(
        tmp_path / "山田.dcm",
        gradient(),
        PatientName="Yamada^Tarou=山田^太郎=やまだ^たろう",
        PatientID="12345",
    )
    widget = ImageViewer()
    qtbot.addWidget(widget)
    widget.set_image(open_image(path))
    assert widget.overlay_text()["top_left"] == ["患者名: 山田 太郎", "患者ID: 12345"]
    widget.grab()


def test_voi_lut_image_shows_its_lut_until_a_window_is_chosen(qtbot):
    lut = VoiLut(0, 8, np.sqrt(np.arange(1000, dtype=np.float32)) * (255 / np.sqrt(999)))
    pixels = np.tile(np.arange(0, 1000, 5, dtype=np.float32), (50, 1))
    image = XrayImage(pixels=pixels, voi_luts=(lut,))
    widget = ImageViewer()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.set_image(image)
    np.testing.assert_array_equal(widget.display_array(), render(image))
    assert widget.overlay_text()["bottom_left"][0] == "WL/WW: VOI LUT"
    widget.apply_preset("auto")
    assert widget.window() == image.auto_window
    widget.apply_preset("header")  # no header window: back to the LUT
    np.testing.assert_array_equal(widget.display_array(), render(image))
    widget.actual_size()  # 200 x 50 at (100, 125): exact on screen
    np.testing.assert_array_equal(screen_grey(widget)[150, 100:300], render(image)[25])


def test_empty_state_paints_the_drop_hint(qtbot):
    widget = ImageViewer()
    qtbot.addWidget(widget)
    widget.resize(500, 300)
    assert widget.image() is None and widget.window() is None
    assert not any(widget.overlay_text().values())
    screen = screen_grey(widget)
    assert screen.max() > 120  # the hint's text on the dark background
    widget.set_zoom(2.0)  # no image: nothing happens, nothing raises
    widget.apply_preset("lung")


def test_signals_do_not_drain_the_reference_count_of_true(viewer: ImageViewer):
    # PySide6 6.12.0 on Python 3.11 loses a reference to True per Signal.emit() from Python;
    # a few hundred mouse moves then abort the interpreter. pyproject pins PySide6 below 6.12
    # (docs/adr/0004); this test catches a version with the bug.
    before = sys.getrefcount(True)
    for i in range(300):
        viewer.set_window(Window(1000 + i, 1500))
        mouse(viewer, QEvent.Type.MouseMove, QPointF(50 + i % 200, 150), Qt.MouseButton.NoButton)
    assert sys.getrefcount(True) >= before - 10


# --- thumbnails ----------------------------------------------------------------------------


def test_thumbnail_strip_hides_with_one_image_and_signals_selection(qtbot, image: XrayImage):
    strip = ThumbnailStrip()
    qtbot.addWidget(strip)
    assert strip.isHidden()
    assert strip.add(image, "chest.dcm") == 0
    assert strip.isHidden()
    assert strip.add(image, "lateral.dcm") == 1
    assert not strip.isHidden()
    assert strip.item(1).text() == "lateral.dcm"
    icon = strip.item(0).icon().pixmap(strip.iconSize())
    assert max(icon.width(), icon.height()) <= strip.iconSize().width()
    with qtbot.waitSignal(strip.selected) as selected:
        strip.setCurrentRow(1)
    assert selected.args == [1]
    strip.clear()
    assert strip.isHidden() and strip.count() == 0
