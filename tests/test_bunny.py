"""Bunny-v1.1 without its custom code, against a reference written here from bunny-v1.1.md.

The checkpoint is made in the test in Bunny's layout (§2: flat ``model.*`` keys, the vision
tower under ``model.vision_tower.vision_tower.vision_model.``, ``model.mm_projector.{0,2}``)
at other sizes than the real model, non-default ``s2_scales``, two shards + index, and an
``auto_map`` whose code files are absent. The reference shares no code with the
implementation: SigLIP, S², the projector and the Llama are written out from §3 and §7.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from bunny_checkpoint import (
    HEADS,
    HIDDEN,
    KV_HEADS,
    LAYERS,
    PATCH,
    SCALES,
    V_HEADS,
    V_LAYERS,
    VISION,
    WIDTH,
    write_bunny,
)
from PIL import Image

torch = pytest.importorskip("torch")
F = torch.nn.functional

# -- the reference, from bunny-v1.1.md ---------------------------------------------------------


def _layer_norm(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-6) * w + b


def _siglip_hidden_minus_2(crops: torch.Tensor, t: dict[str, torch.Tensor]) -> torch.Tensor:
    """§6-§7: patch conv (kernel = stride = patch), row-major positions, pre-LN blocks with
    tanh-GELU MLPs; the output of the second-to-last layer, before post_layernorm."""
    p = {k.removeprefix(VISION): v for k, v in t.items() if k.startswith(VISION)}
    conv = p["embeddings.patch_embedding.weight"], p["embeddings.patch_embedding.bias"]
    x = F.conv2d(crops, *conv, stride=PATCH)
    x = x.flatten(2).transpose(1, 2) + p["embeddings.position_embedding.weight"]
    head_dim = WIDTH // V_HEADS
    for i in range(V_LAYERS - 1):  # hidden_states[-2]
        q = f"encoder.layers.{i}."
        h = _layer_norm(x, p[q + "layer_norm1.weight"], p[q + "layer_norm1.bias"])

        def lin(z: torch.Tensor, name: str, q: str = q) -> torch.Tensor:
            return z @ p[q + name + ".weight"].T + p[q + name + ".bias"]

        def heads(z: torch.Tensor) -> torch.Tensor:
            return z.reshape(z.shape[0], z.shape[1], V_HEADS, head_dim).transpose(1, 2)

        qh, kh, vh = (heads(lin(h, f"self_attn.{n}")) for n in ("q_proj", "k_proj", "v_proj"))
        att = torch.softmax(qh @ kh.transpose(-1, -2) / math.sqrt(head_dim), dim=-1) @ vh
        x = x + lin(att.transpose(1, 2).reshape(x.shape), "self_attn.out_proj")
        h = _layer_norm(x, p[q + "layer_norm2.weight"], p[q + "layer_norm2.bias"])
        x = x + lin(F.gelu(lin(h, "mlp.fc1"), approximate="tanh"), "mlp.fc2")
    return x


def reference_image_rows(image: Image.Image, t: dict[str, torch.Tensor]) -> torch.Tensor:
    """§3 steps 1-9 for one image: [tokens, HIDDEN]."""
    w, h = image.size
    side = max(w, h)
    square = Image.new("RGB", (side, side), (127, 127, 127))
    square.paste(image, ((side - w) // 2, (side - h) // 2))
    big = square.resize((SCALES[-1], SCALES[-1]), Image.Resampling.BICUBIC)
    x = torch.from_numpy(np.asarray(big, np.float32) / 255).permute(2, 0, 1)[None]
    x = (x - 0.5) / 0.5
    grids = []
    for scale in SCALES:
        n = math.ceil(scale / SCALES[0])
        xs = F.interpolate(x, size=scale, mode="bicubic")
        c = SCALES[0]
        crops = torch.cat([xs[..., i * c : (i + 1) * c, j * c : (j + 1) * c]
                           for i in range(n) for j in range(n)])  # fmt: skip
        rows = _siglip_hidden_minus_2(crops, t)  # [n*n, g*g, W]
        g = SCALES[0] // PATCH
        per_crop = rows.transpose(1, 2).reshape(n * n, WIDTH, g, g)
        merged = torch.cat([torch.cat(list(per_crop[i * n : (i + 1) * n]), dim=-1)
                            for i in range(n)], dim=-2)  # fmt: skip
        grids.append(F.interpolate(merged[None], size=g, mode="area"))
    features = torch.cat(grids, dim=1).flatten(2).transpose(1, 2)[0]
    hidden = features @ t["model.mm_projector.0.weight"].T + t["model.mm_projector.0.bias"]
    hidden = 0.5 * hidden * (1 + torch.erf(hidden / math.sqrt(2)))
    return hidden @ t["model.mm_projector.2.weight"].T + t["model.mm_projector.2.bias"]


@pytest.fixture(scope="module")
def bunny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    folder = tmp_path_factory.mktemp("bunny") / "Bunny-tiny"
    tensors = write_bunny(folder)
    return folder, {k: torch.from_numpy(v) for k, v in tensors.items()}


def test_image_rows_match_the_reference(bunny: tuple[Path, dict[str, torch.Tensor]]) -> None:
    from jradi_desktop.architectures import _s2
    from jradi_desktop.architectures._bunny_torch import BunnyModel, read_tensors

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


def _rms(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w


def reference_logits(embeds: torch.Tensor, t: dict[str, torch.Tensor]) -> torch.Tensor:
    """Llama-3 (§7: RMSNorm 1e-5, rope theta 500000, GQA, SiLU MLP), causal over all rows;
    the last position's logits."""
    n, head_dim = embeds.shape[0], HIDDEN // HEADS
    inv = 1.0 / (500000.0 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.arange(n, dtype=torch.float32)[:, None] * inv[None]
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)

    def rope(z: torch.Tensor) -> torch.Tensor:  # [heads, n, d]
        half = head_dim // 2
        return z * cos + torch.cat([-z[..., half:], z[..., :half]], -1) * sin

    x = embeds
    mask = torch.full((n, n), float("-inf")).triu(1)
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        h = _rms(x, t[p + "input_layernorm.weight"])
        q = (h @ t[p + "self_attn.q_proj.weight"].T).reshape(n, HEADS, head_dim).transpose(0, 1)
        k = (h @ t[p + "self_attn.k_proj.weight"].T).reshape(n, KV_HEADS, head_dim).transpose(0, 1)
        v = (h @ t[p + "self_attn.v_proj.weight"].T).reshape(n, KV_HEADS, head_dim).transpose(0, 1)
        k, v = (z.repeat_interleave(HEADS // KV_HEADS, 0) for z in (k, v))
        att = torch.softmax(rope(q) @ rope(k).transpose(-1, -2) / math.sqrt(head_dim) + mask, -1)
        x = x + (att @ v).transpose(0, 1).reshape(n, HIDDEN) @ t[p + "self_attn.o_proj.weight"].T
        h = _rms(x, t[p + "post_attention_layernorm.weight"])
        gate = F.silu(h @ t[p + "mlp.gate_proj.weight"].T) * (h @ t[p + "mlp.up_proj.weight"].T)
        x = x + gate @ t[p + "mlp.down_proj.weight"].T
    return _rms(x, t["model.norm.weight"])[-1] @ t["lm_head.weight"].T


def test_first_step_logits_match_the_reference(
    bunny: tuple[Path, dict[str, torch.Tensor]],
) -> None:
    from jradi_desktop.architectures import _s2
    from jradi_desktop.architectures._bunny_torch import BunnyModel, read_tensors

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
