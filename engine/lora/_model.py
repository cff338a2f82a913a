"""The base model for training: device, dtype, 4-bit loading (QLoRA) and the peft adapter."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import devices
from engine.lora._config import LoraTrainConfig
from engine.lora._errors import LoraError
from jradi_desktop.models import folder_problems

if TYPE_CHECKING:
    import torch


def resolve_device(device: str, local_rank: int = 0) -> str:
    """``auto`` -> ``cuda:LOCAL_RANK`` when a GPU is visible, else ``cpu``; refuse an absent
    GPU."""
    return devices.resolve_device(device, LoraError, local_rank)


def resolve_dtype(config: LoraTrainConfig, device: str) -> torch.dtype:
    """The base weights' dtype: float32 on the CPU; bfloat16 on a GPU that has it (else
    float32, or float16 as QLoRA's compute type)."""
    fallback = "float16" if config.quantization == "4bit" else "float32"
    return devices.torch_dtype(config.dtype, device, fallback=fallback)


def qlora_unavailable_reason() -> str | None:
    """Why 4-bit QLoRA cannot run here, or None when it can."""
    import torch

    if not torch.cuda.is_available():
        return (
            "quantization: 4bit (QLoRA) needs a CUDA GPU and none is visible on this machine. "
            "Train plain LoRA here (quantization: none), or run on a machine with an NVIDIA GPU."
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        return (
            "quantization: 4bit (QLoRA) loads the base model through bitsandbytes, which is not "
            "installed: pip install bitsandbytes"
        )
    return None


def check_base_model(path: Path) -> None:
    """Refuse a base model that is not a Hugging Face folder with safetensors weights."""
    kinds = {problem.kind for problem in folder_problems(path)}
    if kinds & {"no_folder", "no_config"}:
        raise LoraError(f"base_model {path}: not a Hugging Face model folder (no config.json).")
    if "no_weights" in kinds:
        raise LoraError(
            f"base_model {path}: no safetensors weights; pickle checkpoints are not loaded, for "
            "safety. Convert the weights to safetensors."
        )


def load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_for_training(config: LoraTrainConfig, device: str) -> tuple[Any, Any]:
    """The base model with a fresh LoRA adapter (only the adapter trains), and its tokenizer."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path = config.base_model
    check_base_model(path)
    dtype = resolve_dtype(config, device)
    kwargs: dict[str, Any] = {"local_files_only": True, "use_safetensors": True, "dtype": dtype}
    if config.quantization == "4bit":
        reason = qlora_unavailable_reason()
        if reason:
            raise LoraError(reason)
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        kwargs["device_map"] = {"": torch.device(device).index or 0}
    try:
        tokenizer = load_tokenizer(path)
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError, ImportError) as exc:
        raise LoraError(f"base_model {path}: cannot be loaded ({exc})") from exc
    # Non-reentrant checkpointing works under DDP with frozen base weights.
    checkpointing = {"use_reentrant": False}
    if config.quantization == "4bit":
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=config.gradient_checkpointing,
            gradient_checkpointing_kwargs=checkpointing,
        )
    else:
        model.to(device)
        if config.gradient_checkpointing:
            enable = getattr(model, "activation_checkpointing_enable", None)  # transformers 5
            if enable is not None:
                enable(activation_checkpointing_kwargs=checkpointing)
            else:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=checkpointing)
            model.enable_input_require_grads()
    model.config.use_cache = False
    peft_config = LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.peft_targets(),
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        with warnings.catch_warnings():
            # peft 0.21 reads transformers 5's deprecated ``is_gradient_checkpointing``.
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
            model = get_peft_model(model, peft_config)
    except ValueError as exc:  # e.g. target modules not found in the model
        raise LoraError(f"lora.target_modules: {exc}") from exc
    return model, tokenizer


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())
