"""The demo model shipped in the repository (``resources/demo-model/``): a trained demo Bunny
exported to ``model.gguf`` + ``vision/``, registered with ``jradi models add --demo`` and
drafting a report without the engine, in a fresh data folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jradi_desktop.models import DEMO_MARK, ModelSpec, bundled_demo, is_demo, shown_name

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "demo-model"
SAMPLE = ROOT / "resources" / "samples" / "chest_phantom.dcm"


def _jradi(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("jradi")
    program = [str(script)] if script.is_file() else [sys.executable, "-m", "jradi_desktop.cli"]
    return subprocess.run([*program, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_the_shipped_files_are_there_small_and_committable():
    files = [DEMO / "model.gguf", *(DEMO / "vision" / n for n in
             ("manifest.json", "projector.npz", "trunk.onnx", "trunk.onnx.data"))]  # fmt: skip
    assert all(f.is_file() for f in files)
    assert sum(f.stat().st_size for f in files) < 2 * 1024**2  # "well under 10 MB"
    manifest = json.loads((DEMO / "vision" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["architecture"] == "bunny_s2" and manifest["dtype"] == "float16"
    assert "臨床使用不可" in (DEMO / "README.md").read_text(encoding="utf-8")
    ignored = subprocess.run(["git", "check-ignore", *map(str, files)], cwd=ROOT,
                             capture_output=True, text=True)  # fmt: skip
    assert ignored.stdout == ""  # .gitignore's *.gguf has an exception for it


def test_bundled_demo_finds_model_gguf_and_vision(monkeypatch):
    monkeypatch.delenv("JRADI_DEMO_MODEL_DIR", raising=False)
    spec = bundled_demo()
    assert spec is not None and spec.name == "demo" and spec.kind == "gguf"
    assert spec.path == (DEMO / "model.gguf").resolve()
    assert spec.mmproj == (DEMO / "vision").resolve()
    assert is_demo(spec) and shown_name(spec) == f"demo（{DEMO_MARK}）"
    marked = ModelSpec(f"jradi-demo（{DEMO_MARK}）", "gguf", spec.path, spec.mmproj)
    assert shown_name(marked) == marked.name  # the mark only once
    assert not is_demo(ModelSpec("other", "gguf", ROOT / "other.gguf"))


def test_the_override_is_the_only_place_looked_at(monkeypatch, tmp_path):
    monkeypatch.setenv("JRADI_DEMO_MODEL_DIR", str(tmp_path))
    assert bundled_demo() is None


@pytest.mark.slow
def test_models_add_demo_then_report_in_a_fresh_data_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "JRADI_DEMO_MODEL_DIR"}
    env["JRADI_DATA_DIR"] = str(tmp_path / "data")
    added = _jradi("models", "add", "--demo", env=env, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert f"demo（{DEMO_MARK}）: llama" in added.stdout and "vision:" in added.stdout
    again = _jradi("models", "add", "--demo", env=env, cwd=tmp_path)  # replaces its entry
    assert again.returncode == 0, again.stderr
    listed = _jradi("models", "list", env=env, cwd=tmp_path)
    assert listed.stdout.count(f"demo（{DEMO_MARK}）") == 1
    report = _jradi("report", str(SAMPLE), "--model", "demo", "--json", "--max-new-tokens", "24",
                    env=env, cwd=tmp_path)  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert DEMO_MARK in report.stderr  # the mark, off the JSON lines
    [line] = [json.loads(x) for x in report.stdout.splitlines()]
    assert line["model"] == "demo" and "error" not in line and line["text"].strip()


def test_models_add_needs_a_path_or_demo(tmp_path):
    env = {**os.environ, "JRADI_DATA_DIR": str(tmp_path / "data")}
    result = _jradi("models", "add", env=env, cwd=tmp_path)
    assert result.returncode == 2 and "--demo" in result.stderr
