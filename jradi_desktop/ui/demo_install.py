"""「デモモデルをインストール」: the tiny demo model shipped with the app (not for clinical use).

Every install carries it: ``resources/demo-model/`` (a trained demo Bunny-v1.1, ``model.gguf``
+ ``vision/``, run by the GGUF backend with ONNX Runtime; no engine, no torch), a packaged
app also ``demo-model/`` beside its executable, and ``JRADI_DEMO_MODEL_DIR`` overrides both.
Installing only registers those files (``jradi_desktop.models.bundled_demo``); the app's
entry is named with the 臨床使用不可 mark.
"""

from __future__ import annotations

import importlib.util

from jradi_desktop.models import DEMO_MARK, ModelSpec
from jradi_desktop.models import bundled_demo as _bundled_demo

DEMO_NAME = f"jradi-demo（{DEMO_MARK}）"
__all__ = ["DEMO_NAME", "bundled_demo", "engine_available"]


def bundled_demo() -> ModelSpec | None:
    """The shipped demo model under the app's name, or None when its files are missing."""
    return _bundled_demo(DEMO_NAME)


def engine_available() -> bool:
    """Whether the engine extra (torch) is installed: the tuning tab needs it."""
    return all(importlib.util.find_spec(m) is not None for m in ("engine", "torch"))
