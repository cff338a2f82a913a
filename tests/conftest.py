"""Shared fixtures: offline guard, offscreen Qt, the tiny demo models and their GGUF exports."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The user's data folder (registry, history, worker logs) is never the real one in tests.
os.environ["JRADI_DATA_DIR"] = tempfile.mkdtemp(prefix="jradi-test-data-")
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


@pytest.fixture(scope="module")
def dev_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo dev set of 8 report pairs (PNG and DICOM), written once per module."""
    from engine.demo_data import write_demo_dev_set

    return write_demo_dev_set(tmp_path_factory.mktemp("dev"), n=8, seed=0)


@pytest.fixture(scope="module")
def specs(demo_dir, demo_gguf):
    """The demo VLM and base LM as GGUF and HF model specs, by name (kind-role)."""
    from jradi_desktop.models import ModelSpec

    return {
        "gguf-vlm": ModelSpec(
            "vlm", "gguf", demo_gguf["vlm"], mmproj=demo_gguf["mmproj"], threads=1, context=4096
        ),
        "gguf-base": ModelSpec("base", "gguf", demo_gguf["base"], threads=1, context=4096),
        "hf-vlm": ModelSpec("vlm", "hf", demo_dir / "vlm"),
        "hf-base": ModelSpec("base", "hf", demo_dir / "base"),
    }


@pytest.fixture(scope="module")
def backends(specs):
    """A loader of ``specs`` by name: each backend created once, closed at the end."""
    from jradi_desktop.inference import create_backend

    loaded = {}
    yield lambda name: loaded.get(name) or loaded.setdefault(name, create_backend(specs[name]))
    for backend in loaded.values():
        backend.close()


@pytest.fixture(scope="module")
def cpu_only() -> object:
    """For the Bunny tests (``usefixtures``): the comparisons are in float32: the backends (in
    the test and in worker processes) run on the CPU even where a GPU would give bf16.
    tests/test_bunny_cuda.py runs the GPU path."""
    torch = pytest.importorskip("torch")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CUDA_VISIBLE_DEVICES", "")
        patch.setattr(torch.cuda, "is_available", lambda: False)
        yield


@pytest.fixture(scope="module")
def bunny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A tiny Bunny-v1.1 checkpoint (tests/bunny_checkpoint.py) and its tensors in torch."""
    import torch
    from bunny_checkpoint import write_bunny

    folder = tmp_path_factory.mktemp("bunny") / "Bunny-tiny"
    tensors = write_bunny(folder)
    return folder, {k: torch.from_numpy(v) for k, v in tensors.items()}


@pytest.fixture(scope="module")
def plain_pacs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, object]]:
    """A fresh Orthanc for the module and its entry 「院内」 (not yet registered)."""
    from orthanc_server import orthanc_server

    from jradi_desktop.pacs import PacsEntry

    with orthanc_server(tmp_path_factory.mktemp("orthanc") / "server") as server:
        yield server, PacsEntry("院内", server.host, server.dicom_port, server.aet, timeout=10)


@pytest.fixture
def demo_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data folder (``tmp_path/data``) with the shipped demo model registered as
    ``demo``; returns ``tmp_path``."""
    from jradi_desktop.cli import main

    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path / "data"))
    assert main(["models", "add", "--demo"]) == 0
    return tmp_path
