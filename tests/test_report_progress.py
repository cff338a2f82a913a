"""Showing the wait (issue #22, item 5): the phases before a report's first token reach the
app's report panel and ``jradi report``, Stop works while the image is encoded, and the
shipped demo's report is the same text as before the work was split into steps."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from demo_reports import PINNED
from main_window_factory import make_window

from jradi_desktop.inference import ENCODE, PREFILL

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "chest_phantom.dcm"
SHIM = Path(__file__).parent / "slow_shim"
DEMO_REPORT = PINNED["chest_phantom.dcm"]


@pytest.fixture
def slow_crops(monkeypatch):
    """Each S² crop in the worker child takes 0.25 s longer (tests/slow_shim)."""
    monkeypatch.setenv("JRADI_TEST_CROP_SECONDS", "0.25")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SHIM), os.environ.get("PYTHONPATH", "")]))


def _window_with_the_demo_and_the_sample(qtbot, tmp_path):
    """The app's window with the shipped demo model and the sample radiograph open."""
    from jradi_desktop.ui.demo_install import bundled_demo

    window = make_window(tmp_path)
    qtbot.addWidget(window)
    window.set_read_ahead(False)  # the report's own phases, from the first (test_read_ahead)
    window.set_model(bundled_demo())
    window.open_paths([SAMPLE])
    qtbot.waitUntil(lambda: window.current is not None, timeout=10000)
    return window


@pytest.mark.slow
def test_the_shipped_demo_writes_the_same_report(demo_data, capsys):
    from jradi_desktop.cli import main

    assert main(["report", str(SAMPLE), "--model", "demo", "--json"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[-1])["text"] == DEMO_REPORT


@pytest.mark.slow
@pytest.mark.gui
def test_the_report_panel_shows_the_phases_before_the_first_token(qtbot, tmp_path, slow_crops):
    window = _window_with_the_demo_and_the_sample(qtbot, tmp_path)
    seen: list[tuple[str, int, int, str, int]] = []
    first_piece: list[int] = []
    window.report.generate_button.click()
    job = window.session.job
    panel = window.report
    job.progress.connect(lambda phase, done, total: seen.append(
        (phase, done, total, panel.status.text(), panel.progress.value())))  # fmt: skip
    job.piece.connect(lambda _: first_piece.append(len(seen)))
    with qtbot.waitSignal(job.finished, timeout=60000):
        pass
    assert first_piece and first_piece[0] == len(seen) > 0  # every step came before the text
    encode = [s for s in seen if s[0] == ENCODE]
    assert [s[1] for s in encode] == list(range(1, 15)) and {s[2] for s in encode} == {14}
    assert encode[-1][3].startswith("画像を解析中 14/14") and encode[-1][4] == 14
    assert any("残り約" in s[3] for s in encode)  # an estimate from the measured speed
    prefill = [s for s in seen if s[0] == PREFILL]
    assert prefill and prefill[-1][1] == prefill[-1][2] and "入力を読み込み中" in prefill[-1][3]
    assert not panel.progress.isVisible()
    assert panel.text().strip()


@pytest.mark.slow
@pytest.mark.gui
def test_stop_while_the_image_is_encoded_ends_the_job_within_a_second(qtbot, tmp_path, slow_crops):
    window = _window_with_the_demo_and_the_sample(qtbot, tmp_path)
    window.report.generate_button.click()
    job = window.session.job
    with qtbot.waitSignal(job.progress, timeout=60000):  # encoding has begun
        pass
    start = time.perf_counter()
    window.report.stop_button.click()
    with qtbot.waitSignal(job.finished, timeout=5000) as ended:
        pass
    assert time.perf_counter() - start < 1.0
    assert ended.args[0].finish_reason == "cancelled"
    assert window.report.status.text() == "中止しました"
    # the next report runs (the cancelled one was stopped in the child between two crops)
    window.report.generate_button.click()
    with qtbot.waitSignal(window.session.job.finished, timeout=60000):
        pass
    assert window.report.text().strip()


@pytest.mark.slow
def test_jradi_report_shows_the_phases_on_stderr(demo_data, capsys, slow_crops):
    from jradi_desktop.cli import main

    assert main(["report", str(SAMPLE), "--model", "demo", "--json"]) == 0
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    phases = [(e["phase"], e["done"], e["total"]) for e in events if e["event"] == "progress"]
    assert phases[:14] == [(ENCODE, i, 14) for i in range(1, 15)]
    assert phases[-1][0] == PREFILL and phases[-1][1] == phases[-1][2]
    assert json.loads(captured.out.splitlines()[-1])["text"] == DEMO_REPORT
