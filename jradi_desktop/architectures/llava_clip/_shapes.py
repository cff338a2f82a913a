"""LLaVA's shape rules: the CLIP tower and the projector against ``vision_config``.

``rules`` is the models' shape check's collector (``jradi_desktop.models._shapes._Rules``:
``parts``, ``shape``, ``blocks``, ``count``), ``config`` its ``HFConfig``; passed in, so this
family imports nothing above ``architectures``.
"""

from __future__ import annotations

import re
from typing import Any


def vision_rules(rules: Any, config: Any, text_hidden: int | None) -> None:
    """LLaVA: the CLIP tower and the projector against ``vision_config``."""
    if not rules.parts["vision"]:
        return
    vision = config.section("vision_config")
    width = vision.size("hidden_size")
    field = f"{vision.prefix}hidden_size"
    inter = vision.size("intermediate_size", None)
    patch = vision.size("patch_size", None)
    per_layer = {
        f"self_attn.{p}_proj.weight": ([width, width], field) for p in ("q", "k", "v", "out")
    }
    mlp = f"{field}, {vision.prefix}intermediate_size"
    per_layer["mlp.fc1.weight"] = ([inter, width], mlp)
    per_layer["mlp.fc2.weight"] = ([width, inter], mlp)
    layers = vision.size("num_hidden_layers")
    blocks = rules.blocks("vision", "encoder.layers.")
    rules.count(blocks, layers, f"{vision.prefix}num_hidden_layers", "vision encoder")
    for name in rules.parts["vision"]:
        if (m := re.match(r"encoder\.layers\.\d+\.(.+)$", name)) and m.group(1) in per_layer:
            rules.shape("vision", name, *per_layer[m.group(1)])
    patch_why = f"{field}, {vision.prefix}patch_size"
    rules.shape(
        "vision", "embeddings.patch_embedding.weight", [width, None, patch, patch], patch_why
    )
    why = f"{field}, text_config.hidden_size"
    rules.shape("projector", "linear_1.weight", [text_hidden, width], why)
    rules.shape("projector", "linear_2.weight", [text_hidden, text_hidden], why)
