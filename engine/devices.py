"""Which device and dtype a job runs in, and the GPUs torch sees (``jradi-engine devices``).

The wizard asks ``nvidia-smi`` first and that command otherwise; it runs as a child process
(also the bundled ``jradi-engine`` of a frozen app), so the GUI never imports torch.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.errors import EngineError
from jradi_desktop.contract import RESULT, Devices, Event
from jradi_desktop.inference import best_device, torch_dtype

__all__ = ["iter_devices", "resolve_device", "torch_dtype"]

JOB = "devices"


def resolve_device(
    device: str, error: type[EngineError] = EngineError, local_rank: int | None = None
) -> str:
    """``auto`` -> ``cuda`` (``cuda:LOCAL_RANK`` for a distributed worker) when a GPU is
    visible, else ``cpu``; an absent GPU raises ``error`` (the job's own error class)."""
    import torch

    if device == "auto":
        return best_device(local_rank)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise error(f"device {device!r}: no CUDA GPU is visible; use device: cpu or auto.")
    if device == "cuda" and local_rank is not None:
        return f"cuda:{local_rank}"
    return device


def iter_devices() -> Iterator[Event]:
    """One result event: ``gpus`` (name, total and free bytes) and ``reason`` when none."""
    gpus: list[dict[str, object]] = []
    reason = ""
    try:
        import torch

        if torch.cuda.is_available():
            for index in range(torch.cuda.device_count()):
                free, total = torch.cuda.mem_get_info(index)
                name = torch.cuda.get_device_properties(index).name
                gpus.append({"name": name, "total": int(total), "free": int(free)})
        else:
            reason = f"torch {torch.__version__} sees no CUDA GPU"
    except Exception as exc:  # a broken driver or install: say so, do not crash the wizard
        reason = f"{type(exc).__name__}: {exc}"
    if gpus:
        message = ", ".join(f"{g['name']} ({int(g['total']) / 2**30:.0f} GiB)" for g in gpus)
    else:
        message = f"no GPU ({reason})"
    yield Devices(gpus, reason).event(JOB, RESULT, message, 1, 1)
