"""Render ``icons/jradi-desktop.svg`` to the PNG sizes of the Linux icon theme and the Windows
``.ico`` (run after editing the SVG; the outputs are committed)::

    .venv/bin/python packaging/make_icons.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent / "icons"
SIZES = (16, 32, 48, 64, 128, 256)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(ICONS / "jradi-desktop.svg"))
    if not renderer.isValid():
        print("invalid SVG", file=sys.stderr)
        return 1
    pngs = []
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = ICONS / f"jradi-desktop-{size}.png"
        image.save(str(path))
        pngs.append(path)
    (ICONS / "jradi-desktop-256.png").replace(ICONS / "jradi-desktop.png")
    big = Image.open(ICONS / "jradi-desktop.png")
    big.save(ICONS / "jradi-desktop.ico", sizes=[(s, s) for s in SIZES])
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
