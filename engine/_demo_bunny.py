"""The demo VLM in Bunny-v1.1's layout (bunny-v1.1.md §1-§2, §7), shrunk.

A SigLIP with patch 14 run at small S² scales (``DemoShape.s2_scales``, default 56/112/168:
a 56 px trunk of 4 x 4 patches, 1 + 4 + 9 crops), an ``mlp2x_gelu`` projector from
3 x the vision width, and the demo Llama as the language tower. Stored as Bunny stores it:
flat keys (asked of the ``bunny_s2`` declaration), two F16 shards and
``model.safetensors.index.json``, a ``config.json`` with Bunny's fields plus a
``vision_config`` for what the shapes cannot tell (head count, eps), ``generation_config.json``,
``special_tokens_map.json`` and the tokenizer. Every key of the real file is there, the unused
last vision layer, ``post_layernorm`` and the head included (§7 recommends it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jradi_desktop.architectures import Part, get

if TYPE_CHECKING:
    import torch

    from engine.demo import DemoShape

SHARDS = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
INDEX = "model.safetensors.index.json"
# The real Bunny's config names its tower; nothing is ever downloaded from that name.
VISION_TOWER_NAME = "google/siglip-so400m-patch14-384"

Init = Callable[[tuple[int, ...], str, str], "torch.Tensor"]  # (shape, part, name) -> tensor


def _siglip_config(shape: DemoShape) -> object:
    from transformers import SiglipVisionConfig

    return SiglipVisionConfig(
        hidden_size=shape.vision_hidden,
        intermediate_size=shape.vision_intermediate,
        num_hidden_layers=shape.vision_layers,
        num_attention_heads=shape.vision_heads,
        image_size=shape.s2_scales[0],
        patch_size=shape.s2_patch_size,
        layer_norm_eps=1e-6,
        hidden_act="gelu_pytorch_tanh",
        vision_use_head=True,
    )


def image_path_tensors(shape: DemoShape, init: Init) -> dict[tuple[Part, str], torch.Tensor]:
    """Every vision tensor of a full SigLIP (all layers, post_layernorm, head) and the
    projector's, by canonical ``(part, name)``; values from ``init``."""
    from transformers import SiglipVisionModel

    siglip = SiglipVisionModel(_siglip_config(shape))  # for its names and shapes only
    out = {
        ("vision", name): init(tuple(t.shape), "vision", name)
        for name, t in siglip.state_dict().items()
        if not name.endswith("position_ids")
    }
    feature = shape.vision_hidden * len(shape.s2_scales)
    hidden = shape.hidden_size
    projector = {"0.weight": (hidden, feature), "0.bias": (hidden,),
                 "2.weight": (hidden, hidden), "2.bias": (hidden,)}  # fmt: skip
    for name, dims in projector.items():
        out[("projector", name)] = init(dims, "projector", name)
    return out


def bunny_config(shape: DemoShape, text: Any) -> dict[str, Any]:
    """``config.json``: Bunny-v1.1's fields (§1) with the demo's sizes, plus ``s2_scales`` and
    a ``vision_config`` (the real file has neither: its values are the code's defaults)."""
    return {
        "architectures": ["BunnyLlamaForCausalLM"],
        "auto_map": {
            "AutoConfig": "configuration_bunny_llama.BunnyLlamaConfig",
            "AutoModelForCausalLM": "modeling_bunny_llama.BunnyLlamaForCausalLM",
        },
        "model_type": "bunny-llama",
        "mm_vision_tower": VISION_TOWER_NAME,
        "mm_hidden_size": shape.vision_hidden * len(shape.s2_scales),
        "mm_projector_type": "mlp2x_gelu",
        "mm_projector_lr": 1e-5,
        "use_mm_proj": True,
        "use_s2": True,
        "s2_scales": ",".join(str(s) for s in shape.s2_scales),
        "image_aspect_ratio": "pad",
        "unfreeze_vision_tower": True,
        "tune_mm_mlp_adapter": False,
        "freeze_mm_mlp_adapter": False,
        "vision_config": {
            "num_hidden_layers": shape.vision_layers,
            "num_attention_heads": shape.vision_heads,
            "layer_norm_eps": 1e-6,
            "hidden_act": "gelu_pytorch_tanh",
        },
        "hidden_size": text.hidden_size,
        "intermediate_size": text.intermediate_size,
        "num_hidden_layers": text.num_hidden_layers,
        "num_attention_heads": text.num_attention_heads,
        "num_key_value_heads": text.num_key_value_heads,
        "hidden_act": "silu",
        "rms_norm_eps": text.rms_norm_eps,
        "rope_theta": shape.rope_theta,
        "rope_scaling": None,
        "max_position_embeddings": text.max_position_embeddings,
        "attention_bias": False,
        "tie_word_embeddings": False,
        "pretraining_tp": 1,
        "initializer_range": shape.init_std,
        "vocab_size": text.vocab_size,
        "bos_token_id": text.bos_token_id,
        "eos_token_id": text.eos_token_id[0],
        "torch_dtype": "float16",
        "tokenizer_model_max_length": 4096,
        "tokenizer_padding_side": "right",
        "use_cache": True,
    }


def _special_tokens_map(tokenizer: Any) -> dict[str, Any]:
    def token(text: str) -> dict[str, Any]:
        return {"content": text, "lstrip": False, "normalized": False, "rstrip": False,
                "single_word": False}  # fmt: skip

    names = ("bos_token", "eos_token", "pad_token")
    return {name: token(getattr(tokenizer, name)) for name in names}


def write_bunny_folder(
    folder: Path,
    config: dict[str, Any],
    tensors: dict[tuple[Part, str], torch.Tensor],
    tokenizer: Any,
) -> None:
    """Write ``folder`` as Bunny does: F16 shards (language, then the image path) + index,
    the configs, the tokenizer."""
    from safetensors.torch import save_file

    arch = get("bunny_s2")
    stored = {arch.stored_key(part, name): t for (part, name), t in tensors.items()}
    halves = (
        sorted(arch.stored_key(p, n) for p, n in tensors if p == "language"),
        sorted(arch.stored_key(p, n) for p, n in tensors if p != "language"),
    )
    weight_map, total = {}, 0
    for shard, keys in zip(SHARDS, halves, strict=True):
        half = {k: stored[k].detach().to("cpu").half().contiguous() for k in keys}
        save_file(half, folder / shard, metadata={"format": "pt"})
        weight_map |= dict.fromkeys(keys, shard)
        total += sum(t.numel() * t.element_size() for t in half.values())
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    _write_json(folder / INDEX, index)
    _write_json(folder / "config.json", config)
    eos = [config["eos_token_id"], tokenizer.convert_tokens_to_ids("<|eot_id|>")]
    generation = {
        "bos_token_id": config["bos_token_id"],
        "eos_token_id": eos,
        "pad_token_id": tokenizer.pad_token_id,
        "max_length": 4096,
    }
    _write_json(folder / "generation_config.json", generation)
    tokenizer.save_pretrained(folder)
    _write_json(folder / "special_tokens_map.json", _special_tokens_map(tokenizer))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
