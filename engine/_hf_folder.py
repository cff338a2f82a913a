"""The checks every engine job makes of a Hugging Face model folder before reading it.

Shared by the GGUF exporter and the merge so both refuse the same things with the same words:
not a folder, no or broken ``config.json``, pickle-only weights, an architecture other than a
Llama LM or a LLaVA with a Llama language tower.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.errors import EngineError


def weight_files(folder: Path, error: type[EngineError]) -> list[Path]:
    """The safetensors files of ``folder`` (sharded or single); pickle is refused."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        mapping = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        return sorted({folder / f for f in mapping.values()})
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    if any(folder.glob("*.bin")) or any(folder.glob("*.pt")):
        raise error(
            f"{folder}: only pickle checkpoints (*.bin/*.pt) found. JRadi loads safetensors only "
            "(pickle can run code); convert the model to safetensors first."
        )
    raise error(f"{folder}: no model.safetensors or model.safetensors.index.json found.")


def read_llama_config(
    folder: Path, error: type[EngineError], refusal: str
) -> tuple[dict[str, Any], str]:
    """``config.json`` and the kind, ``"llama"`` or ``"llava"`` (with a Llama tower).

    ``refusal`` completes the message for any other architecture, e.g. "is not supported.
    Supported: …".
    """
    if not folder.is_dir():
        raise error(f"{folder}: not a folder. Give a Hugging Face model folder.")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise error(f"{folder}: config.json is missing; is this a Hugging Face model folder?")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{config_path}: not valid JSON ({exc}).") from exc
    model_type = config.get("model_type")
    if model_type == "llama":
        return config, "llama"
    if model_type == "llava" and config.get("text_config", {}).get("model_type") == "llama":
        return config, "llava"
    arch = ", ".join(config.get("architectures") or []) or model_type
    raise error(f"{folder}: architecture {arch!r} {refusal}")
