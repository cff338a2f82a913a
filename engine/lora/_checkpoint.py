"""Training checkpoints: written atomically, read back exactly, never pickled.

``WORKSPACE/checkpoints/step-00000050/`` holds the adapter (``adapter_model.safetensors`` +
``adapter_config.json``, as peft saves it), ``trainer_state.safetensors`` (the optimizer's
tensors, each process's RNG states) and ``trainer_state.json`` (step, optimizer groups,
scheduler, Python RNG states, anything else the loop keeps). Everything is written into a
hidden ``.step-….partial-PID`` folder, flushed to disk and renamed, so a kill at any moment
leaves either the whole checkpoint or none; partial folders are removed on the next start.
Only the last ``keep`` checkpoints stay.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.lora._errors import LoraError

CHECKPOINTS = "checkpoints"
STATE_JSON = "trainer_state.json"
STATE_TENSORS = "trainer_state.safetensors"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
_STEP_DIR = re.compile(r"^step-(\d{8})$")


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    step: int


def list_checkpoints(workspace: str | Path) -> list[Checkpoint]:
    """The complete checkpoints in ``workspace``, oldest first."""
    folder = Path(workspace) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _STEP_DIR.match(path.name)
        if match and (path / STATE_JSON).is_file():
            found.append(Checkpoint(path, int(match[1])))
    return sorted(found, key=lambda c: c.step)


def latest_checkpoint(workspace: str | Path) -> Checkpoint | None:
    found = list_checkpoints(workspace)
    return found[-1] if found else None


def remove_partials(workspace: str | Path) -> list[Path]:
    """Delete the leftovers of checkpoints whose writing was interrupted."""
    folder = Path(workspace) / CHECKPOINTS
    removed = []
    if folder.is_dir():
        for path in folder.glob(".step-*.partial-*"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; the rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _optimizer_parts(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    import torch

    tensors, meta = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                meta.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": meta}


def _rng_parts(rank: int, rng: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    tensors = {f"rng.{rank}.torch": rng["torch"]}
    for i, state in enumerate(rng.get("cuda", [])):
        tensors[f"rng.{rank}.cuda.{i}"] = state
    return tensors, rng["python"]


def rng_state() -> dict[str, Any]:
    """This process's random states: torch (CPU and CUDA) and Python's ``random``."""
    import torch

    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def save_checkpoint(
    workspace: str | Path,
    step: int,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    rng_states: list[dict[str, Any]],
    extra: dict[str, Any],
    keep: int = 2,
) -> Checkpoint:
    """Write checkpoint ``step`` (``model``: the peft model; ``rng_states``: one per process,
    by rank) and delete all but the newest ``keep``."""
    from safetensors.torch import save_file

    folder = Path(workspace) / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step:08d}"
    stage = folder / f".step-{step:08d}.partial-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    model.save_pretrained(stage, safe_serialization=True, save_embedding_layers=False)
    tensors, optimizer_meta = _optimizer_parts(optimizer.state_dict())
    python_rng = []
    for rank, rng in enumerate(rng_states):
        rng_tensors, python = _rng_parts(rank, rng)
        tensors.update(rng_tensors)
        python_rng.append(python)
    save_file(tensors, str(stage / STATE_TENSORS))
    state = {
        "step": step,
        "optimizer": optimizer_meta,
        "scheduler": scheduler.state_dict(),
        "python_rng": python_rng,
        "world_size": len(rng_states),
        **extra,
    }
    (stage / STATE_JSON).write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    _fsync_tree(stage)
    if final.exists():  # the same step again after a resume: replace it whole
        shutil.rmtree(final)
    os.replace(stage, final)
    _fsync_dir(folder)
    for old in list_checkpoints(workspace)[:-keep]:
        shutil.rmtree(old.path, ignore_errors=True)
    return Checkpoint(final, step)


def _python_state(value: Any) -> tuple:
    version, internal, gauss = value
    return (version, tuple(internal), gauss)


def load_checkpoint(
    checkpoint: Checkpoint, model: Any, optimizer: Any, scheduler: Any, rank: int
) -> dict[str, Any]:
    """Restore the adapter, optimizer, scheduler and this rank's RNG states; return the JSON
    state (``step`` and the loop's extras). ``rng_restored`` says whether the checkpoint had
    RNG states for this rank (it may come from a run with fewer processes)."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    path = checkpoint.path
    try:
        state = json.loads((path / STATE_JSON).read_text(encoding="utf-8"))
        tensors = load_file(str(path / STATE_TENSORS))
        adapter = load_file(str(path / ADAPTER_WEIGHTS))
    except (OSError, ValueError) as exc:
        raise LoraError(
            f"{path}: the checkpoint cannot be read ({exc}); delete this folder to resume from "
            "the one before it"
        ) from exc
    result = set_peft_model_state_dict(model, adapter)
    unexpected = [k for k in getattr(result, "unexpected_keys", []) if "lora_" in k]
    if unexpected:
        raise LoraError(f"{path}: adapter weights do not fit this model: {unexpected[:3]}")
    groups = state["optimizer"]["param_groups"]
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    opt_state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            opt_state.setdefault(int(index), {})[key] = tensor
    for index, values in state["optimizer"]["scalars"].items():
        opt_state.setdefault(int(index), {}).update(values)
    optimizer.load_state_dict({"state": opt_state, "param_groups": groups})
    scheduler.load_state_dict(state["scheduler"])
    state["rng_restored"] = f"rng.{rank}.torch" in tensors
    if state["rng_restored"]:
        torch.set_rng_state(tensors[f"rng.{rank}.torch"])
        random.setstate(_python_state(state["python_rng"][rank]))
        prefix = f"rng.{rank}.cuda."
        keys = sorted(
            (k for k in tensors if k.startswith(prefix)), key=lambda k: int(k[len(prefix) :])
        )
        cuda = [tensors[k] for k in keys]
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    return state
