"""The run's folder: its saved config, the result file, atomic small writes, and the optimizer
with its learning-rate schedule (part of what a resumed run must rebuild identically)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from engine.lora._config import CONFIG_FILE, LoraTrainConfig
from engine.lora._errors import LoraError
from jradi_desktop.contract import LORA_RESULT

# Config fields a resumed run may change: they shape what is written, not what is learnt.
RESUMABLE_FIELDS = frozenset(
    {"merge", "gguf", "save_every", "keep_checkpoints", "log_every", "strict_data"}
)


def check_workspace(config: LoraTrainConfig, workspace: Path) -> None:
    """Refuse a workspace that holds a finished run or a run with another config."""
    import yaml

    if (workspace / LORA_RESULT).exists():
        raise LoraError(
            f"{workspace}: holds a finished run ({LORA_RESULT}); choose a new --workspace."
        )
    saved_path = workspace / CONFIG_FILE
    if not saved_path.is_file():
        return
    saved = yaml.safe_load(saved_path.read_text(encoding="utf-8")) or {}
    now = config.model_dump(mode="json")
    changed = [k for k in now if k not in RESUMABLE_FIELDS and saved.get(k) != now[k]]
    if changed:
        detail = "; ".join(f"{k}: was {saved.get(k)!r}, now {now[k]!r}" for k in changed)
        raise LoraError(
            f"{workspace}: holds a run started with another config ({detail}). Resume it with "
            f"its own config ({saved_path}), or choose a new --workspace."
        )


def lr_factor(config: LoraTrainConfig, total: int) -> Any:
    """The multiplier of the learning rate at each step: linear warmup over ``warmup_steps``,
    then constant, linear decay to 0 or cosine decay to 0 at step ``total``."""
    warmup = config.warmup_steps

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if config.lr_scheduler == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if config.lr_scheduler == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0 - progress

    return factor


def make_optimizer(config: LoraTrainConfig, model: Any, total: int) -> tuple[Any, Any, list[Any]]:
    """AdamW over the trainable (adapter) parameters, its scheduler, and those parameters."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config, total))
    return optimizer, scheduler, params
