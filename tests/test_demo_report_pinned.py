"""The shipped demo's greedy reports are the ones recorded before the speed-ups of issue #22,
character for character, through the backend the app runs, whatever it evaluated before (the
context's kept prefix)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from demo_reports import PHANTOM, PINNED, REDRAFT, demo, report
from PIL import Image

from jradi_desktop.inference import ENCODE, PREFILL, create_backend


def test_the_demo_reports_are_unchanged(tmp_path: Path):
    noise = tmp_path / "noise.png"
    pixels = np.random.default_rng(11).integers(0, 256, (300, 240), np.uint8)
    Image.fromarray(pixels).save(noise)
    images = {"chest_phantom.dcm": PHANTOM, "noise.png": noise}
    with create_backend(demo()) as backend:
        # each after another image's report (the system prompt kept), then the same again
        for name in ("chest_phantom.dcm", "noise.png", "chest_phantom.dcm", "chest_phantom.dcm"):
            assert report(backend, images[name]) == PINNED[name], name


def test_a_redraft_keeps_the_image_and_gives_a_fresh_backends_report():
    with create_backend(demo()) as fresh:
        expected = report(fresh, PHANTOM, REDRAFT)
    with create_backend(demo()) as backend:
        first: list = []
        assert report(backend, PHANTOM, progress=first) == PINNED["chest_phantom.dcm"]
        again: list = []
        assert report(backend, PHANTOM, REDRAFT, progress=again) == expected
    rows = backend._s2.encoder.manifest.tokens
    assert any(phase == ENCODE for phase, _, _ in first)
    assert not any(phase == ENCODE for phase, _, _ in again)  # rows cached
    prefill = [done for phase, done, _ in again if phase == PREFILL]
    assert prefill[0] > rows  # the first batch reported ends after the image: all kept
