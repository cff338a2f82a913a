"""Shared fixtures: offline guard, offscreen Qt, the tiny demo models and their GGUF exports."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))

import offline_guard

offline_guard.install()

import jradi_desktop  # noqa: E402, F401  (sets the HF offline switches)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five demo model folders with a LLaVA VLM (the mmproj path), built once per session."""
    from engine.demo import build_demo_models

    return build_demo_models(tmp_path_factory.mktemp("demo-models"), seed=0, vlm="llava")


@pytest.fixture(scope="session")
def bunny_demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo models with the VLM in Bunny-v1.1's layout (``--vlm bunny``), built once."""
    from engine.demo import build_demo_models

    return build_demo_models(tmp_path_factory.mktemp("bunny-demo-models"), seed=0, vlm="bunny")


@pytest.fixture(scope="session")
def demo_gguf(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """f32 GGUF exports of the demo base LM and VLM (model.gguf, mmproj.gguf)."""
    from engine.export import export_gguf

    out = tmp_path_factory.mktemp("gguf")
    base = export_gguf(demo_dir / "base", out / "base", "f32")
    vlm = export_gguf(demo_dir / "vlm", out / "vlm", "f32")
    return {"base": base.model, "vlm": vlm.model, "mmproj": vlm.mmproj}


@pytest.fixture(scope="session")
def trained_gguf(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The LLaVA demo VLM trained briefly to write readable reports, exported to f16 GGUF
    (model.gguf + mmproj.gguf)."""
    from engine.demo import build_demo_models
    from engine.export import export_gguf

    models = build_demo_models(
        tmp_path_factory.mktemp("trained-demo"), seed=0, trained=True, vlm="llava"
    )
    vlm = export_gguf(models / "vlm", tmp_path_factory.mktemp("trained-gguf"), "f16")
    return {"dir": models, "vlm": vlm.model, "mmproj": vlm.mmproj}
