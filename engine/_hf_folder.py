"""The checks every engine job makes of a Hugging Face model folder before reading it.

Asked by the one checkpoint reader (``engine._checkpoint``: the GGUF exporter, the merge, the
evolution) so every job refuses the same things with the same words: not a folder, no or broken
``config.json``, pickle-only weights, a shard the index names but the folder lacks, a family the
architecture registry (``jradi_desktop.architectures``) does not run. ``config.json`` is read by
the app's one checked loader (``jradi_desktop.models.read_hf_config``): errors name the file and
the field; shards are found by the app's one lookup (``jradi_desktop.models.safetensors_files``).
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import EngineError
from jradi_desktop.architectures import (
    Architecture,
    ArchitectureError,
    architectures,
    detect,
    supported,
)
from jradi_desktop.models import (
    HFConfig,
    folder_problems,
    hf_shape_problems,
    read_hf_config,
    safetensors_files,
    safetensors_shapes,
)


def weight_files(folder: Path, error: type[EngineError]) -> list[Path]:
    """The safetensors files of ``folder`` (sharded or single); pickle is refused."""
    files = safetensors_files(folder, error)
    if files:
        return files
    if any(problem.pickles for problem in folder_problems(folder)):
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


def read_model_config(
    folder: Path, error: type[EngineError], refusal: str
) -> tuple[HFConfig, Architecture]:
    """``config.json`` (checked: a JSON object, typed Llama fields) and its family, from the
    architecture registry.

    ``refusal`` says what the job cannot do with any other folder ("cannot be merged"); the
    message ends with the supported families. A checkpoint that brings its own code
    (``auto_map``) for a family the registry does not know is refused as such: that code is
    never run (a known family, e.g. Bunny, is read without it).
    """
    if not folder.is_dir():
        raise error(f"{folder}: not a folder. Give a Hugging Face model folder.")
    config = read_hf_config(folder, error)
    model_type = config.text("model_type", None)
    try:
        family = detect(config)
    except ArchitectureError as exc:
        if any(a.matches(config) for a in architectures()):  # known, but not runnable
            raise error(f"{folder}: {exc}; it {refusal}.") from exc
        raise error(f"{folder}: {_unknown(config, model_type)} {refusal}. "
                    f"Supported: {supported()}.") from exc  # fmt: skip
    _checked_llama(config.text_config())
    return config, family


def _unknown(config: HFConfig, model_type: str | None) -> str:
    """Why no family matches, up to the job's refusal ("... so it")."""
    names = config.get("architectures")
    names = [str(n) for n in names] if isinstance(names, list) else []
    declared = ", ".join(names) or model_type
    auto_map = config.get("auto_map")
    if auto_map:
        classes = ", ".join(sorted(map(str, auto_map))) if isinstance(auto_map, dict) else auto_map
        return (
            f"model_type {model_type!r} needs the checkpoint's own Python code "
            f"(config.json auto_map: {classes}), which JRadi never runs, so it"
        )
    for family in architectures():
        if set(family.classes) & set(names):
            return (
                f"config.json names {declared!r}, but its model_type is {model_type!r}, not "
                f"{family.model_type!r}; this model type"
            )
    return f"architecture {declared!r}"


def check_weights_match_config(
    config: HFConfig, files: list[Path], error: type[EngineError]
) -> None:
    """Refuse a folder whose ``config.json`` contradicts its tensors' shapes (headers only)."""
    problems = hf_shape_problems(config, safetensors_shapes(files, error))
    if problems:
        raise error("\n".join(en for _, en in problems))
