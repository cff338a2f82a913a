"""A Llama language model (or a LLaVA's language tower) written as a llama.cpp GGUF file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gguf
import numpy as np

from engine.errors import ExportError
from engine.export._checkpoint import Checkpoint
from engine.export._vocab import add_tokenizer

OUTTYPES = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16}


def permute_rotary(weights: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder q/k projection rows from HF's rotate-half layout to llama.cpp's interleaved one."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _check_rope(cfg: dict, folder: Path) -> float:
    params = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    rope_type = params.get("rope_type") or params.get("type") or "default"
    if rope_type != "default":
        raise ExportError(
            f"{folder}: rope scaling {rope_type!r} is not supported by the exporter; "
            "supported: plain rotary (Llama-3-8B and its fine-tunes)."
        )
    return float(params.get("rope_theta", cfg.get("rope_theta", 10000.0)))


def _language_tensors(ckpt: Checkpoint) -> list[str]:
    names = [n for n in ckpt.names() if n.startswith("model.") or n == "lm_head.weight"]
    return [n for n in names if not n.endswith("rotary_emb.inv_freq")]


def write_llama_gguf(
    ckpt: Checkpoint,
    out_path: Path,
    outtype: str = "f16",
    name: str | None = None,
    on_tensor: Callable[[str], None] | None = None,
) -> Path:
    """Stream the language tower of ``ckpt`` into ``out_path``, one tensor at a time."""
    cfg = ckpt.text_config
    n_layers = int(cfg["num_hidden_layers"])
    n_head = int(cfg["num_attention_heads"])
    n_head_kv = int(cfg.get("num_key_value_heads") or n_head)
    hidden = int(cfg["hidden_size"])
    head_dim = int(cfg.get("head_dim") or hidden // n_head)
    rope_theta = _check_rope(cfg, ckpt.folder)
    names = _language_tensors(ckpt)
    tied = cfg.get("tie_word_embeddings", ckpt.config.get("tie_word_embeddings"))
    if "lm_head.weight" not in names and not tied:  # llama.cpp reuses token_embd when tied
        raise ExportError(f"{ckpt.folder}: lm_head.weight is missing from the checkpoint.")
    n_vocab = ckpt.shape("model.embed_tokens.weight")[0]

    writer = gguf.GGUFWriter(str(out_path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    writer.add_name(name or ckpt.folder.name)
    writer.add_context_length(int(cfg.get("max_position_embeddings", 8192)))
    writer.add_embedding_length(hidden)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(int(cfg["intermediate_size"]))
    writer.add_rope_dimension_count(head_dim)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-5)))
    writer.add_rope_freq_base(rope_theta)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(OUTTYPES[outtype])
    add_tokenizer(writer, ckpt.folder, n_vocab)

    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    plan: list[tuple[str, str, np.dtype]] = []
    for hf_name in names:
        gguf_name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ExportError(f"{ckpt.folder}: no GGUF name for tensor {hf_name!r}.")
        shape = ckpt.shape(hf_name)
        dtype = np.float16 if outtype == "f16" and len(shape) == 2 else np.float32
        writer.add_tensor_info(
            gguf_name, shape, np.dtype(dtype), int(np.prod(shape)) * dtype().nbytes
        )
        plan.append((hf_name, gguf_name, dtype))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for hf_name, gguf_name, dtype in plan:
        data = ckpt.tensor(hf_name).numpy()
        if hf_name.endswith("q_proj.weight"):
            data = permute_rotary(data, n_head)
        elif hf_name.endswith("k_proj.weight"):
            data = permute_rotary(data, n_head_kv)
        writer.write_tensor_data(np.ascontiguousarray(data.astype(dtype)))
        if on_tensor:
            on_tensor(gguf_name)
    writer.close()
    return out_path
