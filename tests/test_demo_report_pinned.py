"""The shipped demo's greedy reports, recorded before the speed-ups of issue #22: every
speed-up must keep them, character for character, through the backend the app runs
(``create_backend``, GGUF + S²), whatever the backend evaluated before (a kept prefix)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from jradi_desktop.inference import ENCODE, PREFILL, GenerationParams, create_backend
from jradi_desktop.models import ModelSpec
from jradi_desktop.models._demo import bundled_demo
from jradi_desktop.pipeline import generate_report

ROOT = Path(__file__).resolve().parents[1]
# The demo these were recorded with (tools/make_demo_model.py): a regenerated demo needs
# them recorded again, which this names instead of failing on the text.
FINGERPRINT = "sampled-sha256:2e07333cce05bbe45ffc285ae0657c0f7a466de7f12b77a212ebdc6a94a98c5f"
IDEO = "\u3000" * 16  # the demo corpus indents its findings with ideographic spaces
PINNED = {
    "chest_phantom.dcm": (
        f" 所見：{IDEO}両肺野に明らかな浸潤影や腫瘤影は認めません。心胸郭比は正常範囲内です。"
        "肋骨に骨折は認めません。"
    ),
    "noise.png": (
        f" 所見：{IDEO}両肺野にびまん性のすりよび両側肋骨骨折は認めません。\n"
        "印象：陳旧性肋骨骨折。\n印象：右気胸。"
    ),
}


PHANTOM = ROOT / "resources" / "samples" / "chest_phantom.dcm"


def _demo() -> ModelSpec:
    spec = bundled_demo()
    assert spec is not None
    manifest = json.loads((Path(spec.mmproj) / "manifest.json").read_text(encoding="utf-8"))
    if manifest["model_fingerprint"] != FINGERPRINT:
        pytest.fail("the shipped demo was regenerated: record PINNED again from its reports")
    return spec


def _report(backend: Any, image: Path, indication: str = "", progress: list | None = None) -> str:
    def note(phase: str, done: int, total: int) -> None:
        if progress is not None:
            progress.append((phase, done, total))

    result = generate_report(backend, image, model_name="demo", indication=indication,
                             params=GenerationParams(), on_progress=note)  # fmt: skip
    return result.text


def test_the_demo_reports_are_unchanged(tmp_path: Path):
    noise = tmp_path / "noise.png"
    pixels = np.random.default_rng(11).integers(0, 256, (300, 240), np.uint8)
    Image.fromarray(pixels).save(noise)
    images = {"chest_phantom.dcm": PHANTOM, "noise.png": noise}
    with create_backend(_demo()) as backend:
        # each after another image's report (the system prompt kept), then the same again
        for name in ("chest_phantom.dcm", "noise.png", "chest_phantom.dcm", "chest_phantom.dcm"):
            assert _report(backend, images[name]) == PINNED[name], name


def test_a_redraft_keeps_the_image_and_gives_a_fresh_backends_report():
    indication = "右胸痛、発熱"
    with create_backend(_demo()) as fresh:
        expected = _report(fresh, PHANTOM, indication)
    with create_backend(_demo()) as backend:
        first: list = []
        assert _report(backend, PHANTOM, progress=first) == PINNED["chest_phantom.dcm"]
        again: list = []
        assert _report(backend, PHANTOM, indication, progress=again) == expected
    rows = backend._s2.encoder.manifest.tokens
    assert any(phase == ENCODE for phase, _, _ in first)
    assert not any(phase == ENCODE for phase, _, _ in again)  # rows cached
    prefill = [done for phase, done, _ in again if phase == PREFILL]
    assert prefill[0] > rows  # the first batch reported ends after the image: all kept
