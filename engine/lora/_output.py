"""What a finished run leaves: the adapter, the merged model (a plain HF folder) and its GGUF.

Each folder is written under a hidden staging name beside it and renamed when complete.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from engine.lora._errors import LoraError
from engine.lora._model import check_base_model, load_tokenizer

DEMO_MARKER = "jradi_demo.json"  # engine.demo's marker: random weights, not for clinical use


def _stage(out: Path) -> Path:
    stage = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    return stage


def _publish(stage: Path, out: Path) -> Path:
    if out.exists():
        shutil.rmtree(out)
    os.replace(stage, out)
    return out


def save_adapter(model: Any, tokenizer: Any, out: str | Path) -> Path:
    """The peft adapter (``adapter_model.safetensors``, ``adapter_config.json``) and the
    tokenizer it was trained with."""
    out = Path(out)
    stage = _stage(out)
    # The base's own embedding and head stay out: lm_head as a target saves its LoRA factors.
    model.save_pretrained(stage, safe_serialization=True, save_embedding_layers=False)
    tokenizer.save_pretrained(stage)
    return _publish(stage, out)


def merge_adapter(base_model: str | Path, adapter: str | Path, out: str | Path) -> Path:
    """Fold the adapter into the base weights (``merge_and_unload``) and save a normal HF
    folder with the tokenizer, in the base's dtype, loaded and merged on the CPU.

    After QLoRA the base is reloaded at full precision for this, as the adapter was trained
    against the dequantised weights. A demo base's "not for clinical use" marker is copied.
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base_model, adapter, out = Path(base_model), Path(adapter), Path(out)
    check_base_model(base_model)
    try:
        base = AutoModelForCausalLM.from_pretrained(
            base_model, local_files_only=True, use_safetensors=True, dtype="auto"
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
            tuned = PeftModel.from_pretrained(base, adapter, is_trainable=False)
        merged = tuned.merge_and_unload()
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise LoraError(f"cannot merge {adapter} into {base_model}: {exc}") from exc
    merged.config.use_cache = True
    stage = _stage(out)
    merged.save_pretrained(stage, safe_serialization=True)
    has_tokenizer = (adapter / "tokenizer_config.json").is_file()
    load_tokenizer(adapter if has_tokenizer else base_model).save_pretrained(stage)
    if (base_model / DEMO_MARKER).is_file():
        shutil.copy2(base_model / DEMO_MARKER, stage / DEMO_MARKER)
    return _publish(stage, out)
