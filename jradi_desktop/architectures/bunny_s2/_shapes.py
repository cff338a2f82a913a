"""Bunny's shape rules: the SigLIP tower against the settings its tensors and ``config.json``
give (``vision_settings``), the ``mlp2x_gelu`` projector against ``mm_hidden_size`` and the
Llama's width.

``rules`` is the models' shape check's collector (``jradi_desktop.models._shapes._Rules``:
``parts``, ``shapes``, ``stored``, ``missing``, ``shape``, ``blocks``, ``count``,
``problems``), ``config`` its ``HFConfig``; passed in, so this family imports nothing above
``architectures``.
"""

from __future__ import annotations

import re
from typing import Any

from jradi_desktop.architectures._base import ArchitectureError
from jradi_desktop.architectures.bunny_s2 import vision_settings
from jradi_desktop.architectures.fields import FieldError


def vision_rules(rules: Any, config: Any, text_hidden: int | None) -> None:
    """Bunny: the SigLIP tower against the settings its tensors and ``config.json`` give, the
    projector (``mlp2x_gelu``) against ``mm_hidden_size`` and the Llama's width."""
    arch = rules.architecture
    absent = [n for n in _BUNNY_SETTINGS if rules.stored("vision", n) is None]
    for name in absent:  # what vision_settings reads the widths from
        key = arch.stored_key("vision", name)
        rules.missing(key, "Bunny の画像エンコーダー", "Bunny's vision tower")
    if absent:
        return
    vision = {name: rules.shapes[key][1] for name, key in rules.parts["vision"].items()}
    patch_key = rules.parts["vision"]["embeddings.patch_embedding.weight"]
    try:
        s = vision_settings(config, vision)
    except FieldError as exc:  # a field of the wrong type or out of range: names it
        rules.problems.append((str(exc), str(exc)))
        return
    except ArchitectureError as exc:  # mm_hidden_size, s2_scales, layers: names the field
        source = f"the vision width from {patch_key} in {rules.shapes[patch_key][0]}"
        rules.problems.append(
            (f"{config.path}: {exc}（{source}）。config.json と重みが別のモデルのものです。"
             "そのモデルに付属の config.json を使ってください。",
             f"{config.path}: {exc} ({source}); the config and the weights belong to different "
             "models. Use the config.json that came with the weights.")
        )  # fmt: skip
        return
    fc1 = rules.parts["vision"]["encoder.layers.0.mlp.fc1.weight"]
    width = f"the vision width {s.width} of {patch_key}"
    inter = f"{width} and the intermediate size {s.intermediate} of {fc1}"
    square = [s.width, s.width]
    per_layer: dict[str, tuple[list[int | None], str]] = {
        f"self_attn.{p}_proj.weight": (square, width) for p in ("q", "k", "v", "out")
    }
    for name in ("layer_norm1", "layer_norm2"):
        per_layer[f"{name}.weight"] = per_layer[f"{name}.bias"] = ([s.width], width)
    for p in ("q", "k", "v", "out"):
        per_layer[f"self_attn.{p}_proj.bias"] = ([s.width], width)
    per_layer["mlp.fc1.weight"] = ([s.intermediate, s.width], inter)
    per_layer["mlp.fc1.bias"] = ([s.intermediate], inter)
    per_layer["mlp.fc2.weight"] = ([s.width, s.intermediate], inter)
    per_layer["mlp.fc2.bias"] = ([s.width], width)
    blocks = rules.blocks("vision", "encoder.layers.")
    rules.count(blocks, max(blocks) + 1, "the vision tower's stored layers", "vision encoder")
    for name in rules.parts["vision"]:
        if (m := re.match(r"encoder\.layers\.\d+\.(.+)$", name)) and m.group(1) in per_layer:
            rules.shape("vision", name, *per_layer[m.group(1)], config=False)
    rules.shape("vision", "embeddings.patch_embedding.bias", [s.width], width, config=False)
    positions = [s.grid * s.grid, s.width]
    rules.shape("vision", "embeddings.position_embedding.weight", positions, width, config=False)
    for name in ("post_layernorm.weight", "post_layernorm.bias"):
        rules.shape("vision", name, [s.width], width, config=False)
    feature = f"mm_hidden_size ({len(s.scales)} scale(s) x vision width {s.width}), hidden_size"
    rules.shape("projector", "0.weight", [text_hidden, s.feature_width], feature)
    rules.shape("projector", "0.bias", [text_hidden], "hidden_size")
    rules.shape("projector", "2.weight", [text_hidden, text_hidden], "hidden_size")
    rules.shape("projector", "2.bias", [text_hidden], "hidden_size")
    for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
        if rules.stored("projector", name) is None:
            key = arch.stored_key("projector", name)
            rules.missing(key, "mlp2x_gelu の射影層", "the mlp2x_gelu projector")


_BUNNY_SETTINGS = (
    "embeddings.patch_embedding.weight",
    "embeddings.position_embedding.weight",
    "encoder.layers.0.mlp.fc1.weight",
)
