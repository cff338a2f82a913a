"""Folder scans never open what is not a regular file, and ``jradi report`` always returns.

A named pipe beside a good image used to block ``jradi report`` (and the app's open) for
ever: the scan opened it to look for the DICM magic. Now every entry is stat'ed first and a
FIFO, socket, dangling link or link loop is skipped with a message naming it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pydicom.data
import pytest
from PIL import Image

from jradi_desktop.cli import main as jradi
from jradi_desktop.imaging import LoadFailure, scan_images

CT = Path(pydicom.data.get_testdata_file("CT_small.dcm", download=False))


def _png(path: Path, value: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16), value, np.uint8)).save(path, format="PNG")
    return path


def _special_entries(folder: Path) -> dict[str, LoadFailure]:
    """A FIFO, a socket, a dangling link and a link loop in ``folder``: name -> reason."""
    os.mkfifo(folder / "p.bin")
    os.mkfifo(folder / "pipe.dcm")
    (folder / "loop").symlink_to(folder / "loop")
    (folder / "dangling.png").symlink_to(folder / "gone.png")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "sock"))
    server.close()  # the socket file stays
    return {
        "p.bin": LoadFailure.NOT_REGULAR,
        "pipe.dcm": LoadFailure.NOT_REGULAR,
        "loop": LoadFailure.LINK_LOOP,
        "dangling.png": LoadFailure.MISSING,
        "sock": LoadFailure.NOT_REGULAR,
    }


@pytest.mark.timeout(20)
def test_scan_skips_special_files_with_a_reason(tmp_path: Path):
    folder = tmp_path / "study"
    good = _png(folder / "a.png")
    nested = _png(folder / "series" / "b.png")
    (folder / "linked.png").symlink_to(good)  # a link to a regular file is kept
    expected = _special_entries(folder)
    scan = scan_images([folder])
    assert scan.files == [good, folder / "linked.png", nested]
    assert {e.path.name: e.reason for e in scan.skipped} == expected
    for error in scan.skipped:
        assert str(error.path) in error.message_en and str(error.path) in error.message_ja


@pytest.mark.timeout(20)
def test_named_special_files_are_skipped_and_missing_ones_reported(tmp_path: Path):
    os.mkfifo(tmp_path / "fifo")
    scan = scan_images([tmp_path / "fifo", tmp_path / "missing.dcm", CT, CT])
    assert scan.files == [CT]  # once
    assert [e.reason for e in scan.skipped] == [LoadFailure.NOT_REGULAR, LoadFailure.MISSING]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_unreadable_subfolder_is_reported(tmp_path: Path):
    locked = tmp_path / "locked"
    _png(locked / "x.png")
    locked.chmod(0)
    try:
        scan = scan_images([tmp_path])
    finally:
        locked.chmod(0o755)
    assert [e.reason for e in scan.skipped] == [LoadFailure.UNREADABLE]


@pytest.mark.timeout(30)
def test_report_names_every_skipped_entry_before_loading_a_model(tmp_path: Path, capsys):
    folder = tmp_path / "d"
    folder.mkdir()
    expected = _special_entries(folder)
    model = tmp_path / "unused.gguf"  # nothing to report on: the model is never loaded
    assert jradi(["report", str(folder), "--model", str(model), "--json"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {Path(line["image"]).name for line in lines} == set(expected)
    assert all(line["error"] and line["error_ja"] for line in lines)


@pytest.mark.timeout(120)
def test_a_model_that_fails_to_load_ends_the_batch_once(tmp_path: Path, capsys):
    folder = tmp_path / "d"
    for i in range(4):
        _png(folder / f"{i}.png", 40 * i)
    os.mkfifo(folder / "p.bin")
    fake = tmp_path / "fake.gguf"
    fake.write_text("not a GGUF file")
    start = time.perf_counter()
    assert jradi(["report", str(folder), "--model", str(fake), "--json"]) == 1
    assert time.perf_counter() - start < 60  # one load attempt, not one per image
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [line.get("image") and Path(line["image"]).name for line in lines] == ["p.bin", None]
    assert lines[1]["model"] == "fake" and "not a GGUF file" in lines[1]["error"]
    assert captured.err.count("is not a GGUF file") == 1
    assert "the remaining 4 image(s) were not processed" in captured.err


def _acceptance_folder(root: Path) -> tuple[set[str], set[str]]:
    """Good and bad entries for ``jradi report``: (good names, bad names)."""
    root.mkdir()
    _png(root / "good.png")
    shutil.copy(CT, root / "ct.dcm")
    _png(root / "sub" / "nested.png", 200)
    whole = CT.read_bytes()
    (root / "cut.dcm").write_bytes(whole[: len(whole) // 2])
    (root / "x.png").write_text("not a PNG at all")
    os.mkfifo(root / "p.bin")
    (root / "loop").symlink_to(root / "loop")
    return {"good.png", "ct.dcm", "nested.png"}, {"cut.dcm", "x.png", "p.bin", "loop"}


@pytest.mark.slow
def test_report_on_a_messy_folder_returns_with_every_file_accounted_for(demo_gguf, tmp_path):
    good, bad = _acceptance_folder(tmp_path / "d")
    command = [
        sys.executable, "-m", "jradi_desktop.cli", "report", str(tmp_path / "d"),
        "--model", str(demo_gguf["vlm"]), "--mmproj", str(demo_gguf["mmproj"]),
        "--json", "--max-new-tokens", "8",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - start
    assert done.returncode == 1, done.stderr  # the bad files are failures
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    reported = {Path(line["image"]).name: line for line in lines}
    assert set(reported) == good | bad and len(lines) == len(good | bad)
    for name in good:
        assert "error" not in reported[name] and "text" in reported[name], reported[name]
    for name in bad:
        line = reported[name]
        assert name in line["error"] and name in line["error_ja"]
    assert "Traceback" not in done.stderr
    assert seconds < 300
