"""Model folders read lazily, by tensor, with the language tower in one naming scheme.

Each family stores its language tower under its own keys (a LLaVA saved by transformers 5
under one prefix, by other writers under another; a Bunny under the Llama's own names beside
its vision tower and projector). The architecture registry maps every key to its part and
canonical name; here every language tensor gets its Llama name (the *canonical* name), and
each tensor remembers its file and stored key so the splice can write a VLM back in the scheme
it came in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine._hf_folder import read_model_config, weight_files
from engine.merge._errors import MergeError
from jradi_desktop.architectures import Architecture, from_keys, supported
from jradi_desktop.models import HFConfig

if TYPE_CHECKING:
    import torch


@dataclass
class ModelFolder:
    """A Hugging Face model folder: its config and a lazy index of its safetensors tensors."""

    folder: Path
    config: HFConfig  # config.json, checked: typed accessors raise MergeError
    architecture: Architecture  # the registry's family of config.json
    files: list[Path]
    stored: dict[str, tuple[Path, str]] = field(default_factory=dict, repr=False)
    language: dict[str, str] = field(default_factory=dict, repr=False)  # canonical -> stored

    @property
    def text_config(self) -> dict[str, Any]:
        """The language tower's config, as a ``LlamaConfig`` takes it."""
        return self.architecture.text_config(self.config)

    def tensor(self, key: str) -> torch.Tensor:
        """One stored tensor by its stored key, in its stored dtype, on the CPU."""
        from safetensors import safe_open

        path, raw = self.stored[key]
        with safe_open(str(path), framework="pt") as f:
            return f.get_tensor(raw)

    def language_tensor(self, name: str) -> torch.Tensor:
        """One language-tower tensor by its canonical (Llama) name."""
        return self.tensor(self.language[name])

    def language_numel(self) -> int:
        """Elements in the language tower, from the file headers (nothing is loaded)."""
        import math

        from safetensors import safe_open

        total = 0
        for path in self.files:
            with safe_open(str(path), framework="pt") as f:
                for raw in self.language.values():
                    if self.stored[raw][0] == path:
                        total += math.prod(f.get_slice(raw).get_shape())
        return total

    def language_state_dict(self) -> dict[str, torch.Tensor]:
        """The whole language tower, canonical names, stored dtypes (small models, tests)."""
        return {name: self.language_tensor(name) for name in self.language}


def open_model_folder(folder: str | Path) -> ModelFolder:
    """Open a folder of a family the registry runs (a Llama or a VLM with a Llama tower) for
    merging; refuse anything else with the reason."""
    from safetensors import safe_open

    folder = Path(folder)
    config, architecture = read_model_config(folder, MergeError, "cannot be merged")
    files = weight_files(folder, MergeError)
    stored: dict[str, tuple[Path, str]] = {}
    language: dict[str, str] = {}
    for path in files:
        with safe_open(str(path), framework="pt") as f:
            for raw in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                stored[raw] = (path, raw)
                name = architecture.language_name(raw)
                if name is not None:
                    language[name] = raw
    if not language:
        raise MergeError(
            f"{folder}: no language-model tensors found for a {architecture.description}. "
            f"Supported: {supported()}."
        )
    return ModelFolder(folder, config, architecture, files, stored, language)


def language_targets(
    state: Mapping[str, torch.Tensor], architecture: Architecture | None = None
) -> dict[str, str]:
    """Map canonical names to the keys of a live model's (or a dict's) language tensors.

    ``architecture`` defaults to the registry's guess from the keys (``from_keys``): a live
    LLaVA's in-memory names, or a Llama's own (a live Bunny's ``LlamaForCausalLM``).
    """
    architecture = architecture or from_keys(state)
    out = {}
    for key in state:
        name = architecture.language_name(key)
        if name is not None:
            out[name] = key
    return out
