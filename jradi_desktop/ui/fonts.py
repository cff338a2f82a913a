"""Fonts shipped with the app (``resources/fonts/``): registered with Qt once, at start-up.

The bundled IPAex Gothic lets Japanese render on machines without a Japanese font (Qt falls
back to application fonts for glyphs the UI font lacks) and gives exported PDFs the same
Japanese font everywhere (``pdf_export`` prefers it). Registering it takes ~6 ms.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFontDatabase

from jradi_desktop._resources import resource_path

# Where bundled fonts are looked for: the source tree, and a PyInstaller bundle's root.
FONT_DIRS: list[Path] = [Path(__file__).resolve().parents[2] / "resources" / "fonts"]
if resource_path("fonts") not in FONT_DIRS:  # a PyInstaller bundle's root comes first
    FONT_DIRS.insert(0, resource_path("fonts"))
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
_registered: dict[Path, list[str]] = {}


def bundled_font_families(dirs: list[Path] | None = None) -> list[str]:
    """Register the fonts under ``dirs`` (default :data:`FONT_DIRS`) once; their families."""
    families: list[str] = []
    for folder in FONT_DIRS if dirs is None else dirs:
        if folder not in _registered:
            found: list[str] = []
            files = sorted(folder.iterdir()) if folder.is_dir() else []
            for file in (f for f in files if f.suffix.lower() in FONT_SUFFIXES):
                font_id = QFontDatabase.addApplicationFont(str(file))
                if font_id != -1:
                    found += QFontDatabase.applicationFontFamilies(font_id)
            _registered[folder] = found
        families += _registered[folder]
    return families
