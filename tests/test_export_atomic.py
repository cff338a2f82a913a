"""GGUF exports are whole or absent (issue #21, item 5): a write that fails (a file size limit,
as a full disk fails it) or a kill -9 leaves the previous export as it was, and a vision
folder exported with another model.gguf is refused at ``models add`` and at load."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxscript")
pytestmark = pytest.mark.slow


def _export(source: Path, out: Path, *extra: str, limit: int | None = None,
            wait: bool = True) -> subprocess.Popen | subprocess.CompletedProcess:  # fmt: skip
    command = [sys.executable, "-m", "engine.cli", "export-gguf", str(source), str(out), *extra]

    def limit_file_size() -> None:  # writes past ``limit`` bytes fail with EFBIG
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    if not wait:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return subprocess.run(command, capture_output=True, text=True, timeout=300,
                          preexec_fn=limit_file_size)  # fmt: skip


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.fixture(scope="module")
def first(bunny_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete f16 export of the demo Bunny."""
    from engine.export import export_gguf

    out = tmp_path_factory.mktemp("atomic") / "gguf"
    export_gguf(bunny_demo_dir / "vlm", out, "f16")
    return out


def test_a_write_failure_keeps_the_previous_export_and_says_so(bunny_demo_dir, first, tmp_path):
    out = tmp_path / "gguf"
    shutil.copytree(first, out)
    before = _snapshot(out)
    done = _export(bunny_demo_dir / "vlm", out, "--outtype", "f32", limit=100_000)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and str(out) in done.stderr, done.stderr
    assert "could not be written" in done.stderr
    assert _snapshot(out) == before and _leftovers(out) == []


def test_a_kill_during_a_reexport_leaves_the_previous_export_whole(bunny_demo_dir, first, tmp_path):
    from jradi_desktop.architectures.bunny_s2 import check_pair

    out = tmp_path / "gguf"
    shutil.copytree(first, out)
    before = _snapshot(out)
    process = _export(bunny_demo_dir / "vlm", out, "--outtype", "f32", wait=False)
    deadline = time.monotonic() + 120
    while not any((p / "model.gguf").is_file() for p in out.parent.glob(".gguf.partial-*")):
        assert process.poll() is None and time.monotonic() < deadline, "no staging folder seen"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert _snapshot(out) == before  # the old model.gguf, vision/ and export.json together
    check_pair(out / "vision", out / "model.gguf")
    assert _leftovers(out)  # the killed export's staging folder
    done = _export(bunny_demo_dir / "vlm", out, "--outtype", "f32")
    assert done.returncode == 0, done.stderr
    assert _leftovers(out) == []  # removed by the next export
    assert json.loads((out / "export.json").read_text())["outtype"] == "f32"
    check_pair(out / "vision", out / "model.gguf")


def test_a_vision_folder_of_another_export_is_refused_naming_both_files(
    bunny_demo_dir, first, tmp_path, monkeypatch, capsys
):
    from engine.export import export_gguf
    from jradi_desktop.cli import main
    from jradi_desktop.inference import ModelLoadError, create_backend
    from jradi_desktop.models import ModelSpec

    other = export_gguf(bunny_demo_dir / "vlm", tmp_path / "q8", "f16", "Q8_0")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(other.model, mixed / "model.gguf")
    shutil.copytree(first / "vision", mixed / "vision")
    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path / "data"))
    assert main(["models", "add", str(mixed / "model.gguf")]) == 1
    err = capsys.readouterr().err
    assert str(mixed / "vision" / "manifest.json") in err and str(mixed / "model.gguf") in err
    assert "Traceback" not in err
    spec = ModelSpec("mixed", "gguf", mixed / "model.gguf", mixed / "vision", threads=1)
    with pytest.raises(ModelLoadError, match=r"exported with another model\.gguf"):
        create_backend(spec)
