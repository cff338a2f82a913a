"""A Hugging Face model folder read lazily, by tensor, in one naming scheme: the one checkpoint
reader of the merge, the GGUF export and the evolutionary search.

Each family stores its parts under its own keys (a LLaVA saved by transformers 5 under one
prefix, by other writers under another, with or without CLIP's ``vision_model.`` level; a Bunny
flat beside its Llama). The architecture registry maps every key to its part (``language``,
``vision``, ``projector``) and canonical name: the Llama's own names for the language tower,
names relative to the vision model and the projector for the image path. Every stored key also
remembers its file, so a VLM can be written back in the scheme it came in.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine._hf_folder import read_model_config, weight_files
from engine.errors import EngineError
from jradi_desktop.architectures import Architecture, Part
from jradi_desktop.models import HFConfig, safetensors_shapes

if TYPE_CHECKING:
    import torch


@dataclass
class Checkpoint:
    """A model folder: its config, its family and a lazy index of its safetensors tensors."""

    folder: Path
    config: HFConfig  # config.json, checked: typed accessors raise the job's error
    architecture: Architecture  # the registry's family of config.json
    files: list[Path]  # the safetensors files, each once, in the index's order
    stored: dict[str, tuple[Path, str]] = field(default_factory=dict, repr=False)  # key -> file
    parts: dict[Part, dict[str, str]] = field(default_factory=dict, repr=False)

    @property
    def language(self) -> dict[str, str]:
        """The language tower: canonical (Llama) name -> stored key, in file order."""
        return self.parts["language"]

    @property
    def text_config(self) -> HFConfig:
        """The language tower's section (``text_config`` when there is one, else the top)."""
        return self.config.text_config()

    @property
    def llama_config(self) -> dict[str, Any]:
        """The language tower's config as a ``LlamaConfig`` takes it."""
        return self.architecture.text_config(self.config)

    @property
    def vision_config(self) -> HFConfig:
        return self.config.section("vision_config")

    def names(self, part: Part = "language") -> list[str]:
        """The canonical names of ``part``'s tensors, in file order."""
        return list(self.parts[part])

    def stored_key(self, name: str, part: Part = "language") -> str:
        """The key a tensor has in its file."""
        return self.parts[part][name]

    def shape(self, name: str, part: Part = "language") -> list[int]:
        """A tensor's shape, from its file's header (nothing is loaded)."""
        from safetensors import safe_open

        path, raw = self.stored[self.parts[part][name]]
        with safe_open(str(path), framework="pt") as f:
            return list(f.get_slice(raw).get_shape())

    def raw_tensor(self, key: str) -> torch.Tensor:
        """One tensor by its stored key, in its stored dtype, on the CPU."""
        from safetensors import safe_open

        path, raw = self.stored[key]
        with safe_open(str(path), framework="pt") as f:
            return f.get_tensor(raw)

    def tensor(self, name: str, part: Part = "language") -> torch.Tensor:
        """One tensor by its canonical name, in its stored dtype, on the CPU."""
        return self.raw_tensor(self.parts[part][name])

    def tensors(self, part: Part = "language") -> Mapping[str, torch.Tensor]:
        """``part``'s tensors by canonical name, each read from its file when asked for."""
        return _Tensors(self, part)

    def language_numel(self) -> int:
        """Elements in the language tower, from the file headers (nothing is loaded)."""
        shapes = safetensors_shapes(self.files)
        return sum(math.prod(shapes[raw][1]) for raw in self.language.values())

    def language_state_dict(self) -> dict[str, torch.Tensor]:
        """The whole language tower, canonical names, stored dtypes (small models, tests)."""
        return dict(self.tensors())


class _Tensors(Mapping[str, "torch.Tensor"]):
    """A read-only, lazy view of one part of a checkpoint (``Checkpoint.tensors``)."""

    def __init__(self, checkpoint: Checkpoint, part: Part) -> None:
        self._checkpoint, self._part = checkpoint, part

    def __getitem__(self, name: str) -> torch.Tensor:
        return self._checkpoint.tensor(name, self._part)

    def __iter__(self) -> Iterator[str]:
        return iter(self._checkpoint.parts[self._part])

    def __len__(self) -> int:
        return len(self._checkpoint.parts[self._part])


def open_checkpoint(
    folder: str | Path, error: type[EngineError] = EngineError, refusal: str = "is not supported"
) -> Checkpoint:
    """Open a folder of a family the registry runs; refuse anything else with ``error``.

    ``refusal`` says what the job cannot do with another folder ("cannot be merged").
    """
    from safetensors import safe_open

    folder = Path(folder)
    config, architecture = read_model_config(folder, error, refusal)
    files = weight_files(folder, error)
    stored: dict[str, tuple[Path, str]] = {}
    parts: dict[Part, dict[str, str]] = {"language": {}, "vision": {}, "projector": {}}
    for path in files:
        with safe_open(str(path), framework="pt") as f:
            for raw in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                stored[raw] = (path, raw)
                split = architecture.split_key(raw)
                if split is not None:
                    parts[split[0]][split[1]] = raw
    return Checkpoint(folder, config, architecture, files, stored, parts)
