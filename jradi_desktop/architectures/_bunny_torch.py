"""A Bunny folder as torch modules, without its custom code: transformers' own
``LlamaForCausalLM`` and ``SiglipVisionModel`` (the trunk up to the selected layer), an
``mlp2x_gelu`` projector, and the S² path of bunny-v1.1.md §3 in torch."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jradi_desktop.architectures.bunny_s2 import (
    IMAGE_TOKEN_INDEX,
    PROJECTOR_PREFIX,
    VISION_PREFIX,
    BunnyConfigError,
    BunnyS2,
    BunnyVision,
    vision_settings,
)

if TYPE_CHECKING:
    import torch


def _weight_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        names = json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()
        files = sorted({folder / name for name in names})
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise BunnyConfigError(f"{missing[0]}: a shard named in {index.name} is missing")
        return files
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise BunnyConfigError(f"{folder}: no safetensors weights")
    return files


def read_tensors(folder: Path) -> dict[str, torch.Tensor]:
    """Every tensor of the folder's safetensors shards, by key."""
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for path in _weight_files(folder):
        tensors.update(load_file(path))
    return tensors


class BunnyModel:
    """The three parts of a Bunny checkpoint and the S² image path between them."""

    def __init__(self, config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        from transformers import LlamaConfig, LlamaForCausalLM
        from transformers.initialization import no_init_weights

        arch = BunnyS2()
        parts: dict[str, dict[str, torch.Tensor]] = {"language": {}, "vision": {}, "projector": {}}
        for key, tensor in tensors.items():
            split = arch.split_key(key)
            if split is not None:
                parts[split[0]][split[1]] = tensor
        vision = parts["vision"]
        self.settings = vision_settings(config, {k: tuple(v.shape) for k, v in vision.items()})
        llama = LlamaConfig(**arch.text_config(config))
        with no_init_weights():
            self.language = LlamaForCausalLM(llama)
        _load_checked(self.language, parts["language"], "")
        self.language.eval()
        self.vision = _siglip_trunk(self.settings, vision)
        self.projector = _projector(parts["projector"], self.settings.feature_width)

    def image_rows(self, pixels: torch.Tensor) -> torch.Tensor:
        """[B, 3, L, L] normalised at the largest scale -> [B, tokens, hidden], projected."""
        import torch
        import torch.nn.functional as F

        base = self.settings.scales[0]
        dtype = next(self.vision.parameters()).dtype
        pooled = []
        for scale in self.settings.scales:
            n = math.ceil(scale / base)
            x = F.interpolate(pixels.float(), size=scale, mode="bicubic").to(dtype)
            b, c = x.shape[:2]
            crops = x.reshape(b, c, n, base, n, base).permute(2, 4, 0, 1, 3, 5)
            crops = crops.reshape(n * n * b, c, base, base)  # crop (i, j) first: i * n + j
            out = self.vision(crops, output_hidden_states=True).hidden_states[-1]
            side = self.settings.grid
            grid = out.reshape(n, n, b, side, side, -1).permute(2, 5, 0, 3, 1, 4)
            grid = grid.reshape(b, -1, n * side, n * side)
            pooled.append(F.adaptive_avg_pool2d(grid.float(), side).to(dtype))
        features = torch.cat(pooled, dim=1).flatten(2).transpose(1, 2)
        return self.projector(features)

    def embed(self, ids: Sequence[int], rows: torch.Tensor) -> torch.Tensor:
        """Prompt ids with one ``IMAGE_TOKEN_INDEX`` per image -> [1, L, hidden]: the text
        pieces embedded, each image's rows spliced in at its placeholder (§4)."""
        import torch

        table = self.language.get_input_embeddings()
        pieces, text, images = [], [], iter(rows)
        for token in [*ids, None]:
            if token is None or token == IMAGE_TOKEN_INDEX:
                if text:
                    pieces.append(table(torch.tensor(text)))
                    text = []
                if token is not None:
                    pieces.append(next(images).to(table.weight.dtype))
            else:
                text.append(int(token))
        return torch.cat(pieces)[None]


def _siglip_trunk(settings: BunnyVision, tensors: dict[str, torch.Tensor]) -> torch.nn.Module:
    from transformers import SiglipVisionConfig, SiglipVisionModel
    from transformers.initialization import no_init_weights

    config = SiglipVisionConfig(
        hidden_size=settings.width,
        intermediate_size=settings.intermediate,
        num_hidden_layers=settings.trunk_layers,
        num_attention_heads=settings.heads,
        image_size=settings.image_size,
        patch_size=settings.patch,
        layer_norm_eps=settings.eps,
        hidden_act=settings.act,
        vision_use_head=False,
    )
    with no_init_weights():
        model = SiglipVisionModel(config)
    # post_layernorm is unused (hidden_states[-1] of the trunk precedes it) and may be absent
    _load_checked(model, tensors, VISION_PREFIX, optional=("post_layernorm.",))
    return model.eval()


def _load_checked(
    module: torch.nn.Module,
    tensors: dict[str, torch.Tensor],
    prefix: str,
    optional: tuple[str, ...] = (),
) -> None:
    """Load every parameter of ``module`` from ``tensors`` (extra keys ignored: the unused
    last vision layer and head); a missing or misshapen one is named."""
    expected = module.state_dict()
    for key, want in expected.items():
        if key.endswith(("position_ids", "inv_freq")) or (
            key.startswith(optional) and key not in tensors
        ):
            continue  # buffers computed from the config, or unused and absent
        if key not in tensors:
            if key == "lm_head.weight" and getattr(module.config, "tie_word_embeddings", False):
                continue
            raise BunnyConfigError(f"tensor {prefix}{key} is missing from the checkpoint")
        if tuple(tensors[key].shape) != tuple(want.shape):
            raise BunnyConfigError(
                f"tensor {prefix}{key} has shape {tuple(tensors[key].shape)}, the config "
                f"gives {tuple(want.shape)}"
            )
    module.load_state_dict({k: v for k, v in tensors.items() if k in expected}, strict=False)


def _projector(tensors: dict[str, torch.Tensor], width: int) -> torch.nn.Module:
    import torch

    try:
        first, second = tensors["0.weight"], tensors["2.weight"]
    except KeyError as exc:
        raise BunnyConfigError(
            f"projector tensor {PROJECTOR_PREFIX}{exc.args[0]} is missing"
        ) from exc
    if first.shape[1] != width:
        raise BunnyConfigError(
            f"{PROJECTOR_PREFIX}0.weight takes {first.shape[1]} features, the S² vision path "
            f"gives {width}"
        )
    mlp = torch.nn.Sequential(
        torch.nn.Linear(first.shape[1], first.shape[0]),
        torch.nn.GELU(),
        torch.nn.Linear(second.shape[1], second.shape[0]),
    )
    mlp.load_state_dict(tensors, strict=True)
    return mlp.to(first.dtype).eval()
