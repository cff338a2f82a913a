"""The demo model shipped with the app: a tiny trained Bunny-v1.1 (``resources/demo-model/``).

``model.gguf`` + ``vision/`` (the S² vision encoder for ONNX Runtime), made by
``tools/make_demo_model.py``; random weights, so it is marked 臨床使用不可 wherever its name
is shown (``shown_name``). ``JRADI_DEMO_MODEL_DIR``, when set, is the only folder looked at
(the same layout, or a LLaVA ``model.gguf`` + ``mmproj.gguf`` pair); a packaged app looks for
``demo-model/`` beside its executable, then in its bundle.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jradi_desktop._resources import resource_path
from jradi_desktop.contract import MODEL_GGUF, find_mmproj
from jradi_desktop.models._spec import ModelSpec

DEMO_MARK = "臨床使用不可"
DEMO_CLI_NAME = "demo"
DEMO_ENV = "JRADI_DEMO_MODEL_DIR"
__all__ = [
    "DEMO_CLI_NAME",
    "DEMO_MARK",
    "bundled_demo",
    "bundled_demo_dir",
    "is_demo",
    "shown_name",
]


def _candidates() -> list[Path]:
    if os.environ.get(DEMO_ENV):  # an override is the only place looked at
        return [Path(os.environ[DEMO_ENV])]
    folders = []
    if getattr(sys, "frozen", False):
        folders.append(str(Path(sys.executable).parent / "demo-model"))
        folders.append(str(Path(getattr(sys, "_MEIPASS", "")) / "demo-model"))
    folders.append(str(resource_path("demo-model")))
    return [Path(f) for f in folders if f]


def bundled_demo_dir() -> Path | None:
    """The first demo folder holding ``model.gguf`` and its vision encoder, if any."""
    for folder in _candidates():
        if (folder / MODEL_GGUF).is_file() and find_mmproj(folder / MODEL_GGUF):
            return folder
    return None


def bundled_demo(name: str = DEMO_CLI_NAME) -> ModelSpec | None:
    """The shipped demo as a GGUF ``ModelSpec`` named ``name``; None when it is missing."""
    folder = bundled_demo_dir()
    if folder is None:
        return None
    model = folder / MODEL_GGUF
    return ModelSpec(name, "gguf", model.resolve(), find_mmproj(model).resolve())


def is_demo(spec: ModelSpec) -> bool:
    """Whether ``spec`` runs the shipped demo's files (whatever it is registered as)."""
    folder = bundled_demo_dir()
    if folder is None or spec.kind != "gguf":
        return False
    try:
        return Path(spec.path).resolve() == (folder / MODEL_GGUF).resolve()
    except OSError:
        return False


def shown_name(spec: ModelSpec) -> str:
    """``spec.name``, with （臨床使用不可） added when it is the demo and does not say so."""
    if DEMO_MARK in spec.name or not is_demo(spec):
        return spec.name
    return f"{spec.name}（{DEMO_MARK}）"
