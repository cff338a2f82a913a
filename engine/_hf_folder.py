"""The checks every engine job makes of a Hugging Face model folder before reading it.

Shared by the GGUF exporter and the merge so both refuse the same things with the same words:
not a folder, no or broken ``config.json``, pickle-only weights, an architecture other than a
Llama LM or a LLaVA with a Llama language tower. ``config.json`` is read by the app's one
checked loader (``jradi_desktop.models.read_hf_config``): errors name the file and the field.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import EngineError
from jradi_desktop.models import HFConfig, hf_shape_problems, read_hf_config, safetensors_shapes
from jradi_desktop.models import safetensors_files as _indexed_files


def weight_files(folder: Path, error: type[EngineError]) -> list[Path]:
    """The safetensors files of ``folder`` (sharded or single); pickle is refused."""
    if (folder / "model.safetensors.index.json").is_file():
        return _indexed_files(folder, error)
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    if any(folder.glob("*.bin")) or any(folder.glob("*.pt")):
        raise error(
            f"{folder}: only pickle checkpoints (*.bin/*.pt) found. JRadi loads safetensors only "
            "(pickle can run code); convert the model to safetensors first."
        )
    raise error(f"{folder}: no model.safetensors or model.safetensors.index.json found.")


def _checked_llama(text: HFConfig) -> HFConfig:
    """The Llama fields every job relies on have their types (errors name file and field)."""
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads"):
        text.size(key)
    for key in ("num_key_value_heads", "head_dim", "intermediate_size", "vocab_size"):
        text.size(key, None)
    text.float("rms_norm_eps", None)
    return text


def read_llama_config(folder: Path, error: type[EngineError], refusal: str) -> tuple[HFConfig, str]:
    """``config.json`` (checked: a JSON object, typed fields) and the kind, ``"llama"`` or
    ``"llava"`` (with a Llama tower).

    ``refusal`` completes the message for any other architecture, e.g. "is not supported.
    Supported: …". A checkpoint that brings its own code (``auto_map``) is refused as such:
    that code is never run.
    """
    if not folder.is_dir():
        raise error(f"{folder}: not a folder. Give a Hugging Face model folder.")
    config = read_hf_config(folder, error)
    model_type = config.text("model_type", None)
    if model_type == "llama":
        return _checked_llama(config), "llama"
    text = config.section("text_config", None)
    if model_type == "llava" and text is not None and text.text("model_type", None) == "llama":
        _checked_llama(text)
        config.section("vision_config")
        return config, "llava"
    architectures = config.get("architectures")
    architectures = architectures if isinstance(architectures, list) else []
    arch = ", ".join(map(str, architectures)) or model_type
    auto_map = config.get("auto_map")
    if auto_map:
        classes = ", ".join(sorted(map(str, auto_map))) if isinstance(auto_map, dict) else auto_map
        raise error(
            f"{folder}: model_type {model_type!r} needs the checkpoint's own Python code "
            f"(config.json auto_map: {classes}), which JRadi never runs, so it {refusal}"
        )
    if {"LlamaForCausalLM", "LlavaForConditionalGeneration"} & set(map(str, architectures)):
        raise error(
            f"{folder}: config.json names {arch!r}, but its model_type is {model_type!r}, not "
            f"'llama' (or 'llava' with a 'llama' text_config); this model type {refusal}"
        )
    raise error(f"{folder}: architecture {arch!r} {refusal}")


def check_weights_match_config(
    config: HFConfig, files: list[Path], error: type[EngineError]
) -> None:
    """Refuse a folder whose ``config.json`` contradicts its tensors' shapes (headers only)."""
    problems = hf_shape_problems(config, safetensors_shapes(files, error))
    if problems:
        raise error("\n".join(en for _, en in problems))
