"""The shipped demo's greedy reports, recorded before the speed-ups of issue #22, and how to
draft one in-process the way the app does (``create_backend``: GGUF + S²)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jradi_desktop.inference import GenerationParams
from jradi_desktop.models import ModelSpec
from jradi_desktop.models._demo import bundled_demo
from jradi_desktop.pipeline import generate_report

ROOT = Path(__file__).resolve().parents[1]
PHANTOM = ROOT / "resources" / "samples" / "chest_phantom.dcm"
# The demo these were recorded with (tools/make_demo_model.py): a regenerated demo needs
# them recorded again, which demo() names instead of failing on the text.
FINGERPRINT = "sampled-sha256:2e07333cce05bbe45ffc285ae0657c0f7a466de7f12b77a212ebdc6a94a98c5f"
IDEO = "\u3000" * 16  # the demo corpus indents its findings with one 48-byte token of these
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
REDRAFT = "右胸痛、発熱"  # an indication for a redraft of the same image


def demo() -> ModelSpec:
    """The shipped demo, checked to be the one PINNED was recorded with."""
    spec = bundled_demo()
    assert spec is not None
    manifest = json.loads((Path(spec.mmproj) / "manifest.json").read_text(encoding="utf-8"))
    if manifest["model_fingerprint"] != FINGERPRINT:
        pytest.fail("the shipped demo was regenerated: record PINNED again from its reports")
    return spec


def report(generator: Any, image: Path, indication: str = "", progress: list | None = None) -> str:
    """The greedy report's text; each step before the first token appended to ``progress``."""

    def note(phase: str, done: int, total: int) -> None:
        if progress is not None:
            progress.append((phase, done, total))

    result = generate_report(generator, image, model_name="demo", indication=indication,
                             params=GenerationParams(), on_progress=note)  # fmt: skip
    return result.text
