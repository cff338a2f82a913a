"""Bunny-v1.1 without its custom code, against a reference written from bunny-v1.1.md.

The checkpoint is made in the test in Bunny's layout (§2: flat ``model.*`` keys, the vision
tower under ``model.vision_tower.vision_tower.vision_model.``, ``model.mm_projector.{0,2}``)
at other sizes than the real model, non-default ``s2_scales``, two shards + index, and an
``auto_map`` whose code files are absent. The reference (tests/bunny_reference.py) shares no
code with the implementation: SigLIP, S², the projector and the Llama are written out from §3
and §7.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bunny_checkpoint import HIDDEN, SCALES
from bunny_reference import reference_image_rows, reference_logits
from PIL import Image

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("cpu_only")  # float32 on the CPU, as the reference


def test_image_rows_match_the_reference(bunny: tuple[Path, dict[str, torch.Tensor]]) -> None:
    from jradi_desktop.architectures.bunny_s2 import BunnyModel, _s2, read_tensors

    folder, tensors = bunny
    config = json.loads((folder / "config.json").read_text())
    model = BunnyModel(config, read_tensors(folder))
    image = Image.fromarray(np.random.default_rng(7).integers(0, 256, (50, 80, 3), np.uint8))
    pixels = torch.from_numpy(_s2.normalise(image, SCALES[-1]))[None]
    with torch.no_grad():
        got = model.image_rows(pixels)[0]
        want = reference_image_rows(image, tensors)
    assert got.shape == (9, HIDDEN)
    assert (got - want).abs().max() <= 1e-5


def test_first_step_logits_match_the_reference(
    bunny: tuple[Path, dict[str, torch.Tensor]],
) -> None:
    from jradi_desktop.architectures.bunny_s2 import BunnyModel, _s2, read_tensors

    folder, tensors = bunny
    model = BunnyModel(json.loads((folder / "config.json").read_text()), read_tensors(folder))
    image = Image.fromarray(np.random.default_rng(8).integers(0, 256, (40, 40, 3), np.uint8))
    chunk0, chunk1 = [1, 10, 11, 12], [13, 14]  # BOS on chunk 0 only (§4)
    with torch.no_grad():
        rows = model.image_rows(torch.from_numpy(_s2.normalise(image, SCALES[-1]))[None])
        embeds = model.embed([*chunk0, -200, *chunk1], rows)
        got = model.language(inputs_embeds=embeds).logits[0, -1]
        table = tensors["model.embed_tokens.weight"]
        want_embeds = torch.cat([table[chunk0], reference_image_rows(image, tensors),
                                 table[chunk1]])  # fmt: skip
        want = reference_logits(want_embeds, tensors)
    assert embeds.shape == (1, 4 + 9 + 2, HIDDEN)
    assert (got - want).abs().max() <= 1e-4
