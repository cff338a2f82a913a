"""Which device and dtype a model runs in: the one choice of the app's loader and the engine's
jobs (``engine.devices`` builds on it). torch is imported only when asked."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def best_device(local_rank: int | None = None) -> str:
    """``cuda`` (``cuda:LOCAL_RANK`` for a distributed worker) when torch sees a GPU, else
    ``cpu``."""
    import torch

    if not torch.cuda.is_available():
        return "cpu"
    return "cuda" if local_rank is None else f"cuda:{local_rank}"


def torch_dtype(
    name: str, device: str, *, gpu: str = "bfloat16", fallback: str = "float16"
) -> torch.dtype:
    """``name`` ("float16", ...) unless it is ``auto``: float32 on the CPU, ``gpu`` on a GPU,
    and ``fallback`` when ``gpu`` is bfloat16 and the GPU lacks it."""
    import torch

    if name != "auto":
        return getattr(torch, name)
    if not device.startswith("cuda"):
        return torch.float32
    if gpu == "bfloat16" and not torch.cuda.is_bf16_supported():
        return getattr(torch, fallback)
    return getattr(torch, gpu)
