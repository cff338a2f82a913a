"""A Bunny-v1.1 reference written from bunny-v1.1.md, sharing no code with the implementation:
SigLIP, S², the projector and the Llama written out from §3 and §7, greedy decoding and the
prompts from §4."""

from __future__ import annotations

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


def reference_image_rows(
    image: Image.Image, t: dict[str, torch.Tensor], scales: tuple[int, ...] = SCALES
) -> torch.Tensor:
    """§3 steps 1-9 for one image: [tokens, HIDDEN]. Bunny-v1.0: one scale, one pass."""
    w, h = image.size
    side = max(w, h)
    square = Image.new("RGB", (side, side), (127, 127, 127))
    square.paste(image, ((side - w) // 2, (side - h) // 2))
    big = square.resize((scales[-1], scales[-1]), Image.Resampling.BICUBIC)
    x = torch.from_numpy(np.asarray(big, np.float32) / 255).permute(2, 0, 1)[None]
    x = (x - 0.5) / 0.5
    grids = []
    for scale in scales:
        n = math.ceil(scale / scales[0])
        xs = F.interpolate(x, size=scale, mode="bicubic")
        c = scales[0]
        crops = torch.cat([xs[..., i * c : (i + 1) * c, j * c : (j + 1) * c]
                           for i in range(n) for j in range(n)])  # fmt: skip
        rows = _siglip_hidden_minus_2(crops, t)  # [n*n, g*g, W]
        g = scales[0] // PATCH
        per_crop = rows.transpose(1, 2).reshape(n * n, WIDTH, g, g)
        merged = torch.cat([torch.cat(list(per_crop[i * n : (i + 1) * n]), dim=-1)
                            for i in range(n)], dim=-2)  # fmt: skip
        grids.append(F.interpolate(merged[None], size=g, mode="area"))
    features = torch.cat(grids, dim=1).flatten(2).transpose(1, 2)[0]
    hidden = features @ t["model.mm_projector.0.weight"].T + t["model.mm_projector.0.bias"]
    hidden = 0.5 * hidden * (1 + torch.erf(hidden / math.sqrt(2)))
    return hidden @ t["model.mm_projector.2.weight"].T + t["model.mm_projector.2.bias"]


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


SYSTEM = (  # Bunny's default system message (§4)
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
REPORT_TOKENS = 24


def reference_greedy(embeds: torch.Tensor, t: dict[str, torch.Tensor], eos: set[int],
                     limit: int) -> list[int]:  # fmt: skip
    """Greedy decoding with the reference Llama, one full forward per token: argmax, stop
    after an eos id (§4: 128001 and 128009 for Bunny-v1.1) or ``limit`` tokens."""
    tokens: list[int] = []
    while len(tokens) < limit:
        token = int(reference_logits(embeds, t).argmax())
        tokens.append(token)
        if token in eos:
            break
        embeds = torch.cat([embeds, t["model.embed_tokens.weight"][token][None]])
    return tokens


class Reference:
    """The folder's tokenizer and tensors; prompts assembled here from §4."""

    def __init__(self, folder: Path, tensors: dict[str, torch.Tensor]) -> None:
        from transformers import PreTrainedTokenizerFast

        self.tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
        self.tensors = tensors
        self.eos = {self.tokenizer.eos_token_id, self.tokenizer.convert_tokens_to_ids("<|eot_id|>")}

    def report(self, image: Image.Image, prompt: str, scales: tuple[int, ...] = SCALES,
               limit: int = REPORT_TOKENS) -> tuple[list[int], str]:  # fmt: skip
        """ "<SYSTEM> USER: <image>\\n{prompt} ASSISTANT:" split at <image>, each chunk with
        BOS, chunk 1's BOS dropped, the image rows in between."""
        text = f"{SYSTEM} USER: <image>\n{prompt} ASSISTANT:"
        chunk0, chunk1 = (self.tokenizer(c).input_ids for c in text.split("<image>"))
        assert chunk0[0] == chunk1[0] == self.tokenizer.bos_token_id
        table = self.tensors["model.embed_tokens.weight"]
        with torch.no_grad():
            rows = reference_image_rows(image, self.tensors, scales)
            embeds = torch.cat([table[chunk0], rows, table[chunk1[1:]]])
            tokens = reference_greedy(embeds, self.tensors, self.eos, limit)
        return tokens, self.tokenizer.decode(tokens, skip_special_tokens=True)

    def chat(self, system: str, question: str, limit: int) -> tuple[list[int], str]:
        ids = self.tokenizer(f"{system} USER: {question} ASSISTANT:").input_ids
        with torch.no_grad():
            embeds = self.tensors["model.embed_tokens.weight"][ids]
            tokens = reference_greedy(embeds, self.tensors, self.eos, limit)
        return tokens, self.tokenizer.decode(tokens, skip_special_tokens=True)
