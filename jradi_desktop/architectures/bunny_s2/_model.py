"""A Bunny folder as torch modules, without its custom code: transformers' own
``LlamaForCausalLM`` and ``SiglipVisionModel`` (the trunk up to the selected layer), an
``mlp2x_gelu`` projector, and the S² path of bunny-v1.1.md §3 in torch.

``load_bunny(folder, dtype, device)`` reads a folder (shards with or without the index,
``config.json``, the eos ids of ``generation_config.json``); ``BunnyModel.pixels`` /
``image_rows`` / ``embed`` make the ``inputs_embeds`` that ``BunnyModel.language.generate``
takes (the prompt's ids: ``_prompt``).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
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
from jradi_desktop.architectures.shards import safetensors_files

if TYPE_CHECKING:
    import torch
    from PIL import Image


class Tensors(dict):
    """Tensors by key (a plain ``dict``), with ``files``: the shard each key came from."""

    files: dict[str, Path]

    def where(self, key: str) -> str:
        """``"<shard>: "`` for messages, empty when the key's file is unknown."""
        path = getattr(self, "files", {}).get(key)
        return f"{path}: " if path is not None else ""


def read_tensors(folder: Path) -> Tensors:
    """Every tensor of the folder's safetensors shards, by key."""
    from safetensors.torch import load_file

    tensors = Tensors()
    tensors.files = {}
    files = safetensors_files(folder, BunnyConfigError)  # names a shard the index lacks
    if not files:
        raise BunnyConfigError(f"{folder}: no safetensors weights")
    for path in files:
        try:
            shard = load_file(path)
        except Exception as exc:  # SafetensorError, OSError: a damaged or partial file
            raise BunnyConfigError(f"{path}: not a readable safetensors file ({exc})") from exc
        tensors.update(shard)
        tensors.files |= dict.fromkeys(shard, path)
    return tensors


def _where(tensors: Mapping[str, Any] | None, key: str) -> str:
    return tensors.where(key) if isinstance(tensors, Tensors) else ""


@contextlib.contextmanager
def _building(dtype: torch.dtype, device: str | torch.device) -> Iterator[None]:
    """Modules made inside are allocated on ``device`` in ``dtype``, uninitialised."""
    import torch
    from transformers.initialization import no_init_weights

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with no_init_weights(), torch.device(device):
            yield
    finally:
        torch.set_default_dtype(previous)


class BunnyModel:
    """The three parts of a Bunny checkpoint and the S² image path between them."""

    def __init__(
        self,
        config: dict[str, Any],
        tensors: dict[str, torch.Tensor],
        *,
        dtype: torch.dtype | None = None,
        device: str | torch.device = "cpu",
        folder: Path | None = None,
    ) -> None:
        """All three parts in ``dtype`` (float32 by default) on ``device``; ``folder`` (the
        checkpoint's) only names ``config.json`` in messages."""
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM

        dtype = dtype or torch.float32
        arch = BunnyS2()
        parts: dict[str, dict[str, torch.Tensor]] = {"language": {}, "vision": {}, "projector": {}}
        for key, tensor in tensors.items():
            split = arch.split_key(key)
            if split is not None:
                parts[split[0]][split[1]] = tensor
        vision = parts["vision"]
        self.settings = _settings(config, vision, tensors, folder)
        llama = LlamaConfig(**arch.text_config(config))
        llama.dtype = dtype  # what the weights become, not the stored torch_dtype
        with _building(dtype, device):
            self.language = LlamaForCausalLM(llama)
        where = f"{folder}: " if folder is not None else ""
        _load_checked(self.language, parts["language"], "", tensors, where)
        self.language.eval()
        self.vision = vision_trunk(
            self.settings, vision, dtype=dtype, device=device, stored=tensors, where=where
        )
        self.projector = _projector(parts["projector"], self.settings.feature_width, tensors, where)
        self.projector.to(device=device, dtype=dtype)

    @property
    def device(self) -> torch.device:
        return self.language.get_input_embeddings().weight.device

    @property
    def image_tokens(self) -> int:
        """Rows each image takes in the prompt (Bunny-v1.1: 27 x 27 = 729)."""
        return self.settings.grid**2

    def pixels(self, image: Image.Image) -> torch.Tensor:
        """[1, 3, L, L] at the largest scale, as Bunny's processor makes them (§3 steps 1-3:
        pad to a square with (127, 127, 127), PIL bicubic, (x - 0.5) / 0.5)."""
        import torch

        from jradi_desktop.architectures.bunny_s2 import _s2

        array = _s2.normalise(image, self.settings.scales[-1])
        return torch.from_numpy(array)[None].to(self.device)

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
                    pieces.append(table(torch.tensor(text, device=table.weight.device)))
                    text = []
                if token is not None:
                    pieces.append(next(images).to(table.weight.dtype))
            else:
                text.append(int(token))
        return torch.cat(pieces)[None]


def _settings(
    config: dict[str, Any],
    vision: dict[str, torch.Tensor],
    tensors: Mapping[str, Any],
    folder: Path | None,
) -> BunnyVision:
    """``vision_settings``, its refusals naming ``config.json`` and the tensor that gives the
    vision width."""
    try:
        return vision_settings(config, {k: tuple(v.shape) for k, v in vision.items()})
    except BunnyConfigError as exc:
        where = f"{folder / 'config.json'}: " if folder is not None else ""
        patch = "embeddings.patch_embedding.weight"
        if patch not in vision:
            raise BunnyConfigError(f"{where}{exc}") from exc
        key = VISION_PREFIX + patch
        shard = _where(tensors, key).removesuffix(": ")
        source = f" in {shard}" if shard else ""
        raise BunnyConfigError(
            f"{where}{exc} (the vision width {vision[patch].shape[0]} is dimension 0 of "
            f"{key}{source})"
        ) from exc


def vision_trunk(
    settings: BunnyVision,
    vision: dict[str, torch.Tensor],
    *,
    dtype: torch.dtype,
    device: str | torch.device = "cpu",
    stored: Mapping[str, Any] | None = None,
    where: str = "",
) -> torch.nn.Module:
    """The SigLIP trunk up to the layer Bunny reads, loaded from ``vision`` (canonical
    names), checked tensor by tensor; in eval mode."""
    with _building(dtype, device):
        trunk = siglip_trunk(settings)
    # post_layernorm is unused (hidden_states[-1] of the trunk precedes it) and may be absent
    optional = ("post_layernorm.",)
    _load_checked(trunk, vision, VISION_PREFIX, stored, where, optional=optional)
    return trunk.eval()


def siglip_trunk(settings: BunnyVision) -> torch.nn.Module:
    """The SigLIP trunk, weights not yet loaded."""
    from transformers import SiglipVisionConfig, SiglipVisionModel

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
    return SiglipVisionModel(config)


def _load_checked(
    module: torch.nn.Module,
    tensors: dict[str, torch.Tensor],
    prefix: str,
    stored: Mapping[str, Any] | None = None,
    folder: str = "",
    optional: tuple[str, ...] = (),
) -> None:
    """Load every parameter of ``module`` from ``tensors`` (extra keys ignored: the unused
    last vision layer and head); a missing or misshapen one is named, with its shard when
    ``stored`` (:func:`read_tensors`' result) knows it and ``folder`` (``"<folder>: "``)."""
    expected = module.state_dict()
    for key, want in expected.items():
        if key.endswith(("position_ids", "inv_freq")) or (
            key.startswith(optional) and key not in tensors
        ):
            continue  # buffers computed from the config, or unused and absent
        if key not in tensors:
            if key == "lm_head.weight" and getattr(module.config, "tie_word_embeddings", False):
                continue
            raise BunnyConfigError(f"{folder}tensor {prefix}{key} is missing from the checkpoint")
        if tuple(tensors[key].shape) != tuple(want.shape):
            raise BunnyConfigError(
                f"{_where(stored, prefix + key)}tensor {prefix}{key} has shape "
                f"{tuple(tensors[key].shape)}, the config gives {tuple(want.shape)}"
            )
    module.load_state_dict({k: v for k, v in tensors.items() if k in expected}, strict=False)


def _projector(
    tensors: dict[str, torch.Tensor],
    width: int,
    stored: Mapping[str, Any] | None = None,
    folder: str = "",
) -> torch.nn.Module:
    import torch

    try:
        first, second = tensors["0.weight"], tensors["2.weight"]
    except KeyError as exc:
        raise BunnyConfigError(
            f"{folder}projector tensor {PROJECTOR_PREFIX}{exc.args[0]} is missing"
        ) from exc
    if first.shape[1] != width:
        raise BunnyConfigError(
            f"{_where(stored, PROJECTOR_PREFIX + '0.weight')}{PROJECTOR_PREFIX}0.weight takes "
            f"{first.shape[1]} features, the S² vision path gives {width}"
        )
    mlp = torch.nn.Sequential(
        torch.nn.Linear(first.shape[1], first.shape[0]),
        torch.nn.GELU(),
        torch.nn.Linear(second.shape[1], second.shape[0]),
    )
    try:
        mlp.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:  # a bias missing or of the wrong size
        raise BunnyConfigError(f"{folder}projector tensors {PROJECTOR_PREFIX}*: {exc}") from exc
    return mlp.to(first.dtype).eval()


# -- a folder --------------------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BunnyConfigError(f"{path}: not readable as JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise BunnyConfigError(f"{path}: holds a JSON {type(data).__name__}, not an object")
    return data


def _ids(value: Any) -> list[int]:
    values = value if isinstance(value, list) else [value]
    return [int(v) for v in values if isinstance(v, int) and not isinstance(v, bool)]


def generation_ids(folder: Path, config: Mapping[str, Any]) -> dict[str, Any]:
    """bos / eos / pad ids for ``generate``: ``generation_config.json``'s when it has them
    (Bunny-v1.1's update: eos 128001 and 128009), else ``config.json``'s."""
    path = folder / "generation_config.json"
    generation = _read_json(path) if path.is_file() else {}
    eos = _ids(generation.get("eos_token_id")) or _ids(config.get("eos_token_id"))
    bos = _ids(generation.get("bos_token_id")) or _ids(config.get("bos_token_id"))
    pad = _ids(generation.get("pad_token_id")) or _ids(config.get("pad_token_id")) or eos[:1]
    return {
        "eos_token_id": eos or None,
        "bos_token_id": bos[0] if bos else None,
        "pad_token_id": pad[0] if pad else None,
    }


def load_bunny(
    folder: str | Path, dtype: torch.dtype | None = None, device: str | torch.device = "cpu"
) -> BunnyModel:
    """The Bunny checkpoint in ``folder`` in ``dtype`` (float32 by default) on ``device``;
    ``generate`` stops at the folder's eos ids. :class:`BunnyConfigError` names the file and
    the tensor when something is missing or misshapen."""
    from transformers import GenerationConfig

    folder = Path(folder)
    config = _read_json(folder / "config.json")
    model = BunnyModel(config, read_tensors(folder), dtype=dtype, device=device, folder=folder)
    model.language.generation_config = GenerationConfig(**generation_ids(folder, config))
    return model
