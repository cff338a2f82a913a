"""Model folders read lazily, by tensor, with the language tower in one naming scheme.

A Llama checkpoint names its tensors ``model.*`` and ``lm_head.weight``. A LLaVA checkpoint
saved by transformers 5 uses ``language_model.model.*`` / ``language_model.lm_head.weight``
(other writers use the in-memory ``model.language_model.*`` / ``lm_head.weight``); its image
path is ``vision_tower.*`` and ``multi_modal_projector.*``. Here every language tensor gets
its Llama name (the *canonical* name), and each tensor remembers its file and stored key so
the splice can write a VLM back in the scheme it came in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine._hf_folder import read_llama_config, weight_files
from engine.merge._errors import MergeError

if TYPE_CHECKING:
    import torch

SUPPORTED = (
    "Llama causal LMs (LlamaForCausalLM) and LLaVA-style VLMs with a Llama language tower "
    "(LlavaForConditionalGeneration), as safetensors"
)

_LANGUAGE_PREFIXES = (
    ("language_model.model.", "model."),
    ("model.language_model.", "model."),
    ("language_model.lm_head.", "lm_head."),
    ("lm_head.", "lm_head."),
)


def canonical_language_name(key: str, kind: str) -> str | None:
    """The Llama name of a stored or in-memory key, or None when it is not language-tower."""
    if kind == "llama":
        return key if key.startswith(("model.", "lm_head.")) else None
    for old, new in _LANGUAGE_PREFIXES:
        if key.startswith(old):
            return new + key.removeprefix(old)
    return None


def module_kind(keys: Iterable[str]) -> str:
    """``llava`` when the keys hold a vision tower, else ``llama``."""
    return "llava" if any("vision_tower." in k for k in keys) else "llama"


@dataclass
class ModelFolder:
    """A Hugging Face model folder: its config and a lazy index of its safetensors tensors."""

    folder: Path
    config: dict[str, Any]
    kind: str  # "llama" or "llava"
    files: list[Path]
    stored: dict[str, tuple[Path, str]] = field(default_factory=dict, repr=False)
    language: dict[str, str] = field(default_factory=dict, repr=False)  # canonical -> stored

    @property
    def text_config(self) -> dict[str, Any]:
        return self.config["text_config"] if self.kind == "llava" else self.config

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
    """Open a Llama or LLaVA folder for merging; refuse anything else with the reason."""
    from safetensors import safe_open

    folder = Path(folder)
    config, kind = read_llama_config(
        folder, MergeError, f"cannot be merged. Supported: {SUPPORTED}."
    )
    files = weight_files(folder, MergeError)
    stored: dict[str, tuple[Path, str]] = {}
    language: dict[str, str] = {}
    for path in files:
        with safe_open(str(path), framework="pt") as f:
            for raw in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                stored[raw] = (path, raw)
                name = canonical_language_name(raw, kind)
                if name is not None:
                    language[name] = raw
    if not language:
        raise MergeError(f"{folder}: no language-model tensors found. Supported: {SUPPORTED}.")
    return ModelFolder(folder, config, kind, files, stored, language)


def language_targets(state: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """Map canonical names to the keys of a live model's (or a dict's) language tensors."""
    kind = module_kind(state)
    out = {}
    for key in state:
        name = canonical_language_name(key, kind)
        if name is not None:
            out[name] = key
    return out
