"""A Llama language model (or a VLM's language tower) written as a llama.cpp GGUF file.

The tensors are the checkpoint's ``language`` part (the registry's Llama names), so a VLM's
vision tower and projector are never read here; the GGUF is a plain ``llama`` model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from engine._checkpoint import Checkpoint
from engine.errors import ExportError
from engine.export._vocab import add_tokenizer
from jradi_desktop.models import HFConfig

OUTTYPES = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16}


def permute_rotary(weights: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder q/k projection rows from HF's rotate-half layout to llama.cpp's interleaved one."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _check_rope(cfg: HFConfig, folder: Path) -> float:
    empty = HFConfig({}, cfg.path, cfg.error, cfg.prefix)
    params = cfg.section("rope_parameters", None) or cfg.section("rope_scaling", None) or empty
    rope_type = params.text("rope_type", None) or params.text("type", None) or "default"
    if rope_type != "default":
        raise ExportError(
            f"{folder}: rope scaling {rope_type!r} is not supported by the exporter; "
            "supported: plain rotary (Llama-3-8B and its fine-tunes)."
        )
    return params.float("rope_theta", None) or cfg.float("rope_theta", 10000.0)


def _language_tensors(ckpt: Checkpoint) -> list[str]:
    return [n for n in ckpt.names("language") if not n.endswith("rotary_emb.inv_freq")]


@dataclass(frozen=True)
class LlamaParams:
    """The language model's hyper-parameters, read and checked before anything is written."""

    n_layers: int
    n_head: int
    n_head_kv: int
    hidden: int
    head_dim: int
    ffn: int
    context: int
    rms_eps: float
    rope_theta: float
    n_vocab: int


def llama_params(ckpt: Checkpoint) -> LlamaParams:
    """Every config value the GGUF needs, typed (``ExportError`` names the file and field)."""
    cfg = ckpt.text_config
    n_head = cfg.size("num_attention_heads")
    hidden = cfg.size("hidden_size")
    names = _language_tensors(ckpt)
    if "model.embed_tokens.weight" not in names:
        raise ExportError(f"{ckpt.folder}: the token embedding (embed_tokens.weight) is missing.")
    tied = cfg.get("tie_word_embeddings", ckpt.config.get("tie_word_embeddings"))
    if "lm_head.weight" not in names and not tied:  # llama.cpp reuses token_embd when tied
        raise ExportError(f"{ckpt.folder}: lm_head.weight is missing from the checkpoint.")
    return LlamaParams(
        n_layers=cfg.size("num_hidden_layers"),
        n_head=n_head,
        n_head_kv=cfg.size("num_key_value_heads", n_head),
        hidden=hidden,
        head_dim=cfg.size("head_dim", max(hidden // n_head, 1)),
        ffn=cfg.size("intermediate_size"),
        context=cfg.size("max_position_embeddings", 8192),
        rms_eps=cfg.float("rms_norm_eps", 1e-5),
        rope_theta=_check_rope(cfg, ckpt.folder),
        n_vocab=ckpt.shape("model.embed_tokens.weight")[0],
    )


def write_llama_gguf(
    ckpt: Checkpoint,
    out_path: Path,
    outtype: str = "f16",
    name: str | None = None,
    on_tensor: Callable[[str], None] | None = None,
) -> Path:
    """Stream the language tower of ``ckpt`` into ``out_path``, one tensor at a time."""
    p = llama_params(ckpt)
    names = _language_tensors(ckpt)

    writer = gguf.GGUFWriter(str(out_path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    writer.add_name(name or ckpt.folder.name)
    writer.add_context_length(p.context)
    writer.add_embedding_length(p.hidden)
    writer.add_block_count(p.n_layers)
    writer.add_feed_forward_length(p.ffn)
    writer.add_rope_dimension_count(p.head_dim)
    writer.add_head_count(p.n_head)
    writer.add_head_count_kv(p.n_head_kv)
    writer.add_key_length(p.head_dim)
    writer.add_value_length(p.head_dim)
    writer.add_layer_norm_rms_eps(p.rms_eps)
    writer.add_rope_freq_base(p.rope_theta)
    writer.add_vocab_size(p.n_vocab)
    writer.add_file_type(OUTTYPES[outtype])
    add_tokenizer(writer, ckpt.folder, p.n_vocab)

    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, p.n_layers)
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
        data = ckpt.tensor(hf_name).float().numpy()
        if hf_name.endswith("q_proj.weight"):
            data = permute_rotary(data, p.n_head)
        elif hf_name.endswith("k_proj.weight"):
            data = permute_rotary(data, p.n_head_kv)
        writer.write_tensor_data(np.ascontiguousarray(data.astype(dtype)))
        if on_tensor:
            on_tensor(gguf_name)
    writer.close()
    return out_path
