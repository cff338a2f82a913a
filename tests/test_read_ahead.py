"""Reading ahead (issue #22): the report's image is encoded and its positions evaluated in the
worker while the clinician still looks at it; the report asked for then starts after them,
waits for a read-ahead still running (hearing its steps), and is the text a fresh backend
writes; Stop while it waits ends it at once."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from demo_reports import PHANTOM, PINNED, REDRAFT, demo, report

from jradi_desktop.imaging import open_image, to_model_rgb
from jradi_desktop.inference import (
    ENCODE,
    PREFILL,
    InferenceWorker,
    build_report_messages,
    create_backend,
)

SHIM = Path(__file__).parent / "slow_shim"
CROPS = 14  # 1 + 4 + 9 S² crops per image


@pytest.fixture
def slow_crops(monkeypatch):
    """Each S² crop in the worker child takes 0.25 s longer (tests/slow_shim)."""
    monkeypatch.setenv("JRADI_TEST_CROP_SECONDS", "0.25")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SHIM), os.environ.get("PYTHONPATH", "")]))


def _read_ahead(worker: InferenceWorker, steps: list) -> None:
    image = to_model_rgb(open_image(PHANTOM))
    worker.read_ahead(build_report_messages(""), [image], lambda *step: steps.append(step))


def _until(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def _reading_ahead(worker: InferenceWorker) -> threading.Thread:
    """A read-ahead of the sample on its own thread, once it has reported a crop."""
    worker.wait_ready()
    ahead: list = []
    reading = threading.Thread(target=_read_ahead, args=(worker, ahead))
    reading.start()
    assert _until(lambda: bool(ahead)), "the read-ahead never reported a crop"
    return reading


@pytest.mark.slow
def test_the_report_after_a_read_ahead_starts_after_the_image():
    with create_backend(demo()) as fresh:
        expected = report(fresh, PHANTOM, REDRAFT)
    with InferenceWorker(demo()) as worker:
        ahead: list = []
        _read_ahead(worker, ahead)
        assert worker.finish_reason == "stop"
        assert [done for phase, done, _ in ahead if phase == ENCODE] == list(range(1, CROPS + 1))
        progress: list = []
        assert report(worker, PHANTOM, REDRAFT, progress) == expected
        assert report(worker, PHANTOM) == PINNED["chest_phantom.dcm"]
    rows = 16  # the demo's image rows (its vision manifest's "tokens")
    assert not any(phase == ENCODE for phase, _, _ in progress)
    prefill = [done for phase, done, _ in progress if phase == PREFILL]
    assert prefill[0] > rows  # the image's positions were kept from the read-ahead


@pytest.mark.slow
def test_a_report_asked_during_a_read_ahead_waits_for_it_and_hears_its_steps(slow_crops):
    with InferenceWorker(demo()) as worker:
        reading = _reading_ahead(worker)
        progress: list = []
        assert report(worker, PHANTOM, progress=progress) == PINNED["chest_phantom.dcm"]
        reading.join(5)
        assert not reading.is_alive()
    encode = [done for phase, done, _ in progress if phase == ENCODE]
    assert encode and encode[-1] == CROPS and encode[0] > 1  # the read-ahead's, from midway
    assert encode == sorted(encode)


@pytest.mark.slow
def test_stop_while_a_report_waits_for_a_read_ahead_ends_both(slow_crops):
    with InferenceWorker(demo()) as worker:
        reading = _reading_ahead(worker)
        waiting: list = []
        ended: list[float] = []

        def ask() -> None:
            waiting.append(report(worker, PHANTOM, progress=waiting))
            ended.append(time.monotonic())

        asking = threading.Thread(target=ask)
        asking.start()
        assert _until(lambda: bool(waiting))  # it hears the read-ahead's steps: it waits
        stopped = time.monotonic()
        worker.cancel()
        asking.join(5)
        reading.join(5)
        assert not asking.is_alive() and not reading.is_alive()
        assert ended[0] - stopped < 1.0
        assert worker.finish_reason == "cancelled" and waiting[-1] == ""
        assert report(worker, PHANTOM) == PINNED["chest_phantom.dcm"]  # and the next one works


@pytest.mark.slow
@pytest.mark.gui
def test_the_app_reads_the_open_image_ahead_and_its_report_starts_after_it(qtbot, tmp_path):
    from main_window_factory import make_window

    from jradi_desktop.ui.demo_install import bundled_demo

    window = make_window(tmp_path)
    qtbot.addWidget(window)
    assert window.controller.read_ahead_enabled  # on unless turned off
    window.set_model(bundled_demo())
    window.open_paths([PHANTOM])
    qtbot.waitUntil(lambda: window.current is not None, timeout=10000)
    qtbot.waitUntil(lambda: not window.controller.reading_ahead, timeout=30000)
    assert not window.controller.busy  # the clinician could ask all along
    seen: list = []
    pieces: list[str] = []
    window.report.generate_button.click()
    job = window.session.job
    job.progress.connect(lambda phase, done, total: seen.append((phase, done, total)))
    job.piece.connect(pieces.append)
    with qtbot.waitSignal(job.finished, timeout=60000):
        pass
    assert "".join(pieces) == PINNED["chest_phantom.dcm"]
    assert not any(phase == ENCODE for phase, _, _ in seen)


@pytest.mark.gui
def test_turning_the_read_ahead_off_is_remembered(qtbot, tmp_path):
    from main_window_factory import make_window

    window = make_window(tmp_path)
    qtbot.addWidget(window)
    window.actions_by_name["read_ahead"].trigger()  # checked -> unchecked
    assert not window.controller.read_ahead_enabled
    again = make_window(tmp_path)
    qtbot.addWidget(again)
    assert not again.controller.read_ahead_enabled
    assert not again.actions_by_name["read_ahead"].isChecked()


@pytest.mark.slow
@pytest.mark.gui
def test_a_chat_question_stops_the_read_ahead_instead_of_waiting(qtbot, tmp_path, slow_crops):
    from main_window_factory import make_window

    from jradi_desktop.ui.demo_install import bundled_demo

    window = make_window(tmp_path)
    qtbot.addWidget(window)
    window.set_model(bundled_demo())
    window.open_paths([PHANTOM])
    qtbot.waitUntil(lambda: window.controller.reading_ahead, timeout=10000)
    chat = window.chat
    chat.input.setPlainText("肺炎の症状は？")
    assert chat.send()
    heard: list = []
    chat.job.progress.connect(lambda phase, done, total: heard.append(phase))
    with qtbot.waitSignal(chat.job.finished, timeout=30000) as done:
        pass
    assert done.args[0].result  # answered
    assert not window.controller.reading_ahead
    assert heard.count(ENCODE) <= 1  # at most the crop under way when it was stopped
