"""Task vectors by parameter name: tau_i = theta_i - theta_base (REFERENCE.md §1, step 1).

A parameter the model lacks contributes zeros; a parameter only the model has is ignored (the
merge writes the base's parameters); a shape mismatch is an error naming the tensor and both
models. Differences are taken in float32 and then stored in the chosen dtype.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from engine.merge._errors import MergeError

if TYPE_CHECKING:
    import torch

TAU_DTYPES = ("float32", "float16", "bfloat16")


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float16"`` or ``torch.float16`` -> ``torch.float16``, refusing other dtypes."""
    import torch

    name = str(dtype).removeprefix("torch.")
    if name not in TAU_DTYPES:
        raise MergeError(
            f"dtype {dtype!r} is not supported for merging; choose one of {TAU_DTYPES}."
        )
    return getattr(torch, name)


def mergeable_names(base: Mapping[str, torch.Tensor]) -> list[str]:
    """The base's floating-point parameters, in its order: the tensors the merge writes."""
    return [name for name, t in base.items() if t.is_floating_point()]


def task_vector_tensor(
    name: str,
    base: torch.Tensor,
    model: torch.Tensor | None,
    dtype: torch.dtype,
    model_label: str = "the model",
    base_label: str = "the base",
) -> torch.Tensor | None:
    """``model - base`` in float32, stored as ``dtype``; None when the model lacks the tensor."""
    import torch

    if model is None:
        return None
    if tuple(model.shape) != tuple(base.shape):
        raise MergeError(
            f"tensor {name!r} has shape {list(model.shape)} in {model_label} but "
            f"{list(base.shape)} in {base_label}. Task vectors subtract tensors by name, so every "
            "model must share the base's architecture and vocabulary; merge models fine-tuned "
            "from the same base."
        )
    tau = model.to(device=base.device, dtype=torch.float32) - base.to(torch.float32)
    if not bool(torch.isfinite(tau).all()):
        raise MergeError(
            f"tensor {name!r} of {model_label} (or of {base_label}) holds inf or NaN values; "
            "the checkpoint is damaged or was saved in a dtype too narrow for its weights."
        )
    return tau.to(dtype)


def task_vectors(
    base: Mapping[str, torch.Tensor],
    models: Sequence[Mapping[str, torch.Tensor]],
    dtype: str | torch.dtype = "float32",
    model_labels: Sequence[str] | None = None,
) -> list[dict[str, torch.Tensor]]:
    """One task vector per model, keyed by the base's floating-point parameter names.

    Missing parameters are returned as zeros (``zeros_like`` of the base tensor).
    """
    import torch

    dt = resolve_dtype(dtype)
    labels = list(model_labels or [f"model {i}" for i in range(len(models))])
    out = []
    for model, label in zip(models, labels, strict=True):
        tau: dict[str, torch.Tensor] = {}
        for name in mergeable_names(base):
            t = task_vector_tensor(name, base[name], model.get(name), dt, label)
            tau[name] = t if t is not None else torch.zeros_like(base[name], dtype=dt)
        out.append(tau)
    return out
