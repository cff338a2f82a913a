"""Look at the viewer and time a window change.

    xvfb-run -a .venv/bin/python benchmarks/show_viewer.py IMAGE|synthetic OUT.png [--repeats 60]

Opens IMAGE (any file ``open_image`` reads; ``synthetic`` writes ``tools/make_sample.py``'s
chest phantom at 2048 x 2048, 12-bit, with a Japanese patient name) in a bare window with the
viewer and a thumbnail strip of two images, moves the mouse over it and saves screenshots with
``QWidget.grab()``: OUT (the image), OUT's stem + ``_anon.png`` (anonymised overlay) and
``_empty.png`` (the empty state). Then times, on a 2048 x 2048 image in a 1000 x 800 viewer,
``set_window`` until the repaint is done (``QWidget.repaint()`` paints synchronously), idle
at three zooms, and during a left-drag (mouse-move event to repaint). Without a usable X
display it runs on Qt's offscreen platform (same painting, no flush to an X server).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# grab() renders the same either way; fall back when Qt's xcb plugin lacks system libraries
# (libxcb-icccm4, libxcb-keysyms1, libxcb-cursor0 on Debian/Ubuntu).
os.environ.setdefault("QT_QPA_PLATFORM", "xcb;offscreen")

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from jradi_desktop.imaging import Window, XrayImage, open_image
from jradi_desktop.ui.viewer import ImageViewer, ThumbnailStrip
from tools.make_sample import write as write_chest


def move(widget: QWidget, pos: QPointF, buttons: Qt.MouseButton) -> None:
    event = QMouseEvent(
        QEvent.Type.MouseMove,
        pos,
        QPointF(widget.mapToGlobal(pos)),
        Qt.MouseButton.NoButton,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)


def press(widget: QWidget, pos: QPointF, kind: QEvent.Type) -> None:
    left = Qt.MouseButton.LeftButton
    buttons = left if kind == QEvent.Type.MouseButtonPress else Qt.MouseButton.NoButton
    event = QMouseEvent(
        kind, pos, QPointF(widget.mapToGlobal(pos)), left, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)


def summary(label: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"{label}: median {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms (n={len(ms)})"


def time_window_changes(app: QApplication, image: XrayImage, repeats: int) -> list[str]:
    viewer = ImageViewer()
    viewer.resize(1000, 800)
    viewer.show()
    viewer.set_image(image)
    app.processEvents()
    base = viewer.window()
    assert base is not None
    lines = []
    for label, zoom in (("fitted", None), ("1:1", 1.0), ("200%", 2.0)):
        if zoom is not None:
            viewer.set_zoom(zoom)
        viewer.repaint()
        idle: list[float] = []
        for i in range(repeats):
            center = base.center + (i % 7) * 13.0
            window = Window(center, base.width + (i % 5) * 29.0, base.function)
            start = time.perf_counter()
            viewer.set_window(window)
            viewer.repaint()
            idle.append(time.perf_counter() - start)
        where = f"{image.columns}x{image.rows} {label} (zoom {viewer.zoom():.2f}) in 1000x800"
        lines.append(summary(f"set_window + repaint, {where}", idle))
    viewer.fit_to_window()
    dragging: list[float] = []
    centre = QPointF(500, 400)
    press(viewer, centre, QEvent.Type.MouseButtonPress)
    for i in range(repeats):
        target = centre + QPointF((i % 40) * 3.0, (i % 30) * 2.0 + 1.0)
        start = time.perf_counter()
        move(viewer, target, Qt.MouseButton.LeftButton)
        viewer.repaint()
        dragging.append(time.perf_counter() - start)
    press(viewer, centre, QEvent.Type.MouseButtonRelease)
    lines.append(summary("left-drag move event + render + repaint, fitted", dragging))
    paint_only: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        viewer.repaint()
        paint_only.append(time.perf_counter() - start)
    lines.append(summary("repaint alone (no change), fitted", paint_only))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", help="an image file, or 'synthetic'")
    parser.add_argument("out", type=Path, help="screenshot path (.png)")
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:  # open_image reads the whole file
        chest = open_image(write_chest(Path(tmp) / "synthetic_chest.dcm", size=2048))
        small = open_image(write_chest(Path(tmp) / "synthetic_chest_1k.dcm", size=1024))
    synthetic = args.image == "synthetic"
    image = chest if synthetic else open_image(args.image)
    second = small if synthetic else chest

    window = QWidget()
    window.setWindowTitle("JRadi Desktop — viewer")
    layout = QVBoxLayout(window)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    viewer = ImageViewer()
    strip = ThumbnailStrip()
    layout.addWidget(viewer, 1)
    layout.addWidget(strip)
    images = [image, second]
    for item in images:
        strip.add(item, item.source.name if item.source else "image")
    strip.selected.connect(lambda row: viewer.set_image(images[row]))
    strip.setCurrentRow(0)
    window.resize(1000, 860)
    window.show()
    app.processEvents()
    move(viewer, viewer.map_from_image(image.columns * 0.3, image.rows * 0.45), Qt.MouseButton(0))
    app.processEvents()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out))
    viewer.set_overlay_mode("anonymised")
    window.grab().save(str(args.out.with_name(args.out.stem + "_anon.png")))
    viewer.clear()
    window.grab().save(str(args.out.with_name(args.out.stem + "_empty.png")))
    print(f"screenshots: {args.out} (+ _anon, _empty); Qt platform {app.platformName()}")
    for line in time_window_changes(app, chest, args.repeats):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
