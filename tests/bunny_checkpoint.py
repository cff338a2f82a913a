"""A Bunny-v1.1-layout checkpoint written for tests, from bunny-v1.1.md §1-§2.

Other sizes than the real model, non-default ``s2_scales``, two F32 shards + index, and an
``auto_map`` whose code files are absent: what a test needs that the demo does not give.
Beside the weights: a byte-level BPE tokenizer (the demo's, with the Llama-3 special tokens
and, like the real folder's, the base LLM's Llama-3 chat template), ``generation_config.json``
with eos = end_of_text + eot (as Bunny-v1.1's update) and ``special_tokens_map.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

VISION = "model.vision_tower.vision_tower.vision_model."
WIDTH, V_FF, V_LAYERS, V_HEADS, PATCH = 24, 40, 3, 3, 7
SCALES = (21, 42, 63)  # a 21 px trunk, 3 x 3 patches; 1, 4 and 9 crops
HIDDEN, FF, LAYERS, HEADS, KV_HEADS, VOCAB = 32, 48, 2, 4, 2, 320


def _vision_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.patch_embedding.weight": (WIDTH, 3, PATCH, PATCH),
        "embeddings.patch_embedding.bias": (WIDTH,),
        "embeddings.position_embedding.weight": ((SCALES[0] // PATCH) ** 2, WIDTH),
        "post_layernorm.weight": (WIDTH,),
        "post_layernorm.bias": (WIDTH,),
        "head.probe": (1, 1, WIDTH),
    }
    for i in range(V_LAYERS):
        p = f"encoder.layers.{i}."
        for norm in ("layer_norm1", "layer_norm2"):
            shapes[f"{p}{norm}.weight"] = shapes[f"{p}{norm}.bias"] = (WIDTH,)
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes[f"{p}self_attn.{proj}.weight"] = (WIDTH, WIDTH)
            shapes[f"{p}self_attn.{proj}.bias"] = (WIDTH,)
        shapes[f"{p}mlp.fc1.weight"], shapes[f"{p}mlp.fc1.bias"] = (V_FF, WIDTH), (V_FF,)
        shapes[f"{p}mlp.fc2.weight"], shapes[f"{p}mlp.fc2.bias"] = (WIDTH, V_FF), (WIDTH,)
    return shapes


def _language_shapes() -> dict[str, tuple[int, ...]]:
    head_dim = HIDDEN // HEADS
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (VOCAB, HIDDEN),
        "model.norm.weight": (HIDDEN,),
        "lm_head.weight": (VOCAB, HIDDEN),
    }
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        shapes[f"{p}input_layernorm.weight"] = (HIDDEN,)
        shapes[f"{p}post_attention_layernorm.weight"] = (HIDDEN,)
        shapes[f"{p}self_attn.q_proj.weight"] = (HEADS * head_dim, HIDDEN)
        shapes[f"{p}self_attn.k_proj.weight"] = (KV_HEADS * head_dim, HIDDEN)
        shapes[f"{p}self_attn.v_proj.weight"] = (KV_HEADS * head_dim, HIDDEN)
        shapes[f"{p}self_attn.o_proj.weight"] = (HIDDEN, HEADS * head_dim)
        shapes[f"{p}mlp.gate_proj.weight"] = (FF, HIDDEN)
        shapes[f"{p}mlp.up_proj.weight"] = (FF, HIDDEN)
        shapes[f"{p}mlp.down_proj.weight"] = (HIDDEN, FF)
    return shapes


def _random(shape: tuple[int, ...], name: str, rng: np.random.Generator) -> np.ndarray:
    if "norm" in name and name.endswith("weight"):
        return (1 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
    return (0.2 * rng.standard_normal(shape)).astype(np.float32)


def write_tokenizer(folder: Path) -> object:
    """The tokenizer (``VOCAB`` entries) saved into ``folder``; returned."""
    from engine.demo import build_tokenizer

    tokenizer = build_tokenizer(VOCAB)
    assert len(tokenizer) <= VOCAB
    tokenizer.save_pretrained(folder)
    return tokenizer


def write_bunny(
    folder: Path,
    seed: int = 0,
    config_changes: dict | None = None,
    projector_width: int | None = None,
) -> dict[str, np.ndarray]:
    """Write the checkpoint (and a config with ``config_changes`` applied); its tensors.

    ``projector_width``: the projector's input width (default: WIDTH x the scales; WIDTH for
    a Bunny-v1.0 single pass).
    """
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    tensors = {k: _random(s, k, rng) for k, s in _language_shapes().items()}
    tensors |= {VISION + k: _random(s, k, rng) for k, s in _vision_shapes().items()}
    feature = projector_width or WIDTH * len(SCALES)
    tensors["model.mm_projector.0.weight"] = _random((HIDDEN, feature), "p0", rng)
    tensors["model.mm_projector.0.bias"] = _random((HIDDEN,), "p0b", rng)
    tensors["model.mm_projector.2.weight"] = _random((HIDDEN, HIDDEN), "p2", rng)
    tensors["model.mm_projector.2.bias"] = _random((HIDDEN,), "p2b", rng)
    folder.mkdir(parents=True)
    keys = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": keys[::2],
              "model-00002-of-00002.safetensors": keys[1::2]}  # fmt: skip
    weight_map = {}
    for name, shard_keys in shards.items():
        save_file({k: tensors[k] for k in shard_keys}, folder / name, metadata={"format": "pt"})
        weight_map |= dict.fromkeys(shard_keys, name)
    total = sum(t.nbytes for t in tensors.values())
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map})
    )
    config = {
        "architectures": ["BunnyLlamaForCausalLM"],
        "model_type": "bunny-llama",
        "auto_map": {
            "AutoConfig": "configuration_bunny_llama.BunnyLlamaConfig",
            "AutoModelForCausalLM": "modeling_bunny_llama.BunnyLlamaForCausalLM",
        },
        "mm_vision_tower": "google/siglip-so400m-patch14-384",
        "mm_hidden_size": feature,
        "mm_projector_type": "mlp2x_gelu",
        "use_mm_proj": True,
        "use_s2": True,
        "s2_scales": ",".join(map(str, SCALES)),
        "image_aspect_ratio": "pad",
        "vision_config": {"num_attention_heads": V_HEADS, "layer_norm_eps": 1e-6},
        "hidden_size": HIDDEN,
        "intermediate_size": FF,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0,
        "rope_scaling": None,
        "max_position_embeddings": 2048,
        "attention_bias": False,
        "tie_word_embeddings": False,
        "vocab_size": VOCAB,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32",
        "tokenizer_model_max_length": 2048,
        "tokenizer_padding_side": "right",
    }
    tokenizer = write_tokenizer(folder)
    eot = tokenizer.convert_tokens_to_ids("<|eot_id|>")
    config |= {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    config.update(config_changes or {})
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    generation = {"bos_token_id": tokenizer.bos_token_id,
                  "eos_token_id": [tokenizer.eos_token_id, eot],
                  "pad_token_id": tokenizer.eos_token_id, "max_length": 2048}  # fmt: skip
    (folder / "generation_config.json").write_text(json.dumps(generation, indent=2))
    special = {"bos_token": tokenizer.bos_token, "eos_token": tokenizer.eos_token}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    return tensors
