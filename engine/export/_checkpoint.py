"""Read a Hugging Face model folder lazily, by tensor, in one naming scheme.

Each family stores its parts under its own keys (a LLaVA saved by transformers 5 under the
old keys, by other writers under the in-memory ones, with or without CLIP's ``vision_model.``
level; a Bunny flat beside its Llama). The architecture registry maps every key to its part
(``language``, ``vision``, ``projector``) and canonical name: the Llama's own names for the
language tower, names relative to the vision model and the projector for the image path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine._hf_folder import read_model_config, weight_files
from engine.errors import ExportError
from jradi_desktop.architectures import Architecture, Part
from jradi_desktop.models import HFConfig

if TYPE_CHECKING:
    import torch


@dataclass
class Checkpoint:
    """A model folder: its config, its family and a lazy index of its safetensors tensors."""

    folder: Path
    config: HFConfig  # config.json, checked: typed accessors raise ExportError
    architecture: Architecture
    _files: dict[tuple[Part, str], tuple[Path, str]] = field(default_factory=dict, repr=False)

    @property
    def text_config(self) -> HFConfig:
        """The language tower's section (``text_config`` when there is one, else the top)."""
        return self.config.text_config()

    @property
    def vision_config(self) -> HFConfig:
        return self.config.section("vision_config")

    def files(self) -> list[Path]:
        """The safetensors files, each once."""
        return sorted({path for path, _ in self._files.values()})

    def names(self, part: Part = "language") -> list[str]:
        """The canonical names of ``part``'s tensors, in file order."""
        return [name for p, name in self._files if p == part]

    def stored_key(self, name: str, part: Part = "language") -> str:
        """The key a tensor has in its file."""
        return self._files[part, name][1]

    def shape(self, name: str, part: Part = "language") -> list[int]:
        from safetensors import safe_open

        path, raw = self._files[part, name]
        with safe_open(str(path), framework="pt") as f:
            return list(f.get_slice(raw).get_shape())

    def tensor(self, name: str, part: Part = "language") -> torch.Tensor:
        """One tensor as float32 on the CPU."""
        from safetensors import safe_open

        path, raw = self._files[part, name]
        with safe_open(str(path), framework="pt") as f:
            return f.get_tensor(raw).float()


def open_checkpoint(folder: str | Path) -> Checkpoint:
    """Open a model folder for export, refusing what the exporter does not support."""
    from safetensors import safe_open

    folder = Path(folder)
    config, architecture = read_model_config(folder, ExportError, "is not supported")
    files: dict[tuple[Part, str], tuple[Path, str]] = {}
    for path in weight_files(folder, ExportError):
        with safe_open(str(path), framework="pt") as f:
            for raw in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                split = architecture.split_key(raw)
                if split is not None:
                    files[split] = (path, raw)
    return Checkpoint(folder=folder, config=config, architecture=architecture, _files=files)
