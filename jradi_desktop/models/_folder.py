"""Is this a usable Hugging Face model folder? The one check, torch-free and instant.

A folder, its ``config.json``, and safetensors weights (a shard index or ``*.safetensors``;
pickle checkpoints are never loaded). The app's loader, the model check, the tuning wizard, the
engine's jobs and LoRA training all ask here; each words the answer for its own reader (the
wizard in its translated strings, the loader as its own error classes), so what is refused is
decided once while the messages stay where their readers are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from jradi_desktop.architectures.shards import INDEX

CONFIG = "config.json"


@dataclass(frozen=True)
class FolderProblem:
    """One thing that makes a folder unusable, and the path it concerns."""

    kind: Literal["no_folder", "no_config", "no_weights"]
    path: Path  # the folder (no_folder, no_weights) or its config.json (no_config)
    pickles: tuple[str, ...] = ()  # no_weights: the pickle checkpoints found instead

    @property
    def found(self) -> str:
        """The pickle files found, for messages ("" when none)."""
        return ", ".join(self.pickles)


def folder_problems(folder: str | Path) -> list[FolderProblem]:
    """What makes ``folder`` unusable, in the order to report it: nothing (a folder with a
    ``config.json`` and safetensors weights), ``no_folder`` alone, else ``no_config`` and/or
    ``no_weights``.

    Only presence is checked here: ``config.json``'s fields are ``read_hf_config``'s, the
    shards an index names ``safetensors_files``'.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return [FolderProblem("no_folder", folder)]
    problems = []
    if not (folder / CONFIG).is_file():
        problems.append(FolderProblem("no_config", folder / CONFIG))
    if not (folder / INDEX).is_file() and not any(folder.glob("*.safetensors")):
        pickles = sorted(p.name for p in folder.glob("*.bin")) + sorted(
            p.name for p in folder.glob("*.pt*")
        )
        problems.append(FolderProblem("no_weights", folder, tuple(pickles)))
    return problems
