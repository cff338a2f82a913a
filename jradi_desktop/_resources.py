"""Where the files shipped with the app live (``resources/``): one place for every lookup.

A source checkout or an editable install (``pip install -e .``) reads ``resources/`` of the
checkout; a PyInstaller bundle carries the same tree under ``sys._MEIPASS``. The fonts, the
sample DICOM and the demo model (``resources/demo-model/``) are all found through here.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["resource_path", "resource_root"]


def resource_root() -> Path:
    """The folder holding ``resources/``: the PyInstaller bundle, or the source tree."""
    if getattr(sys, "frozen", False) and hasattr(sys, "_MEIPASS"):
        return Path(sys._MEIPASS)
    return Path(__file__).resolve().parents[1]


def resource_path(*parts: str) -> Path:
    """``resources/PARTS…`` (whether or not it exists)."""
    return resource_root().joinpath("resources", *parts)
