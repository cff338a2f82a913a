"""Read a Hugging Face model folder lazily, by tensor, in one naming scheme.

Llama checkpoints use ``model.layers.N...``; LLaVA checkpoints are saved by transformers 5
with the old keys (``language_model.model.*``, ``vision_tower.*``) or, by other writers, with
the in-memory ones (``model.language_model.*``, ``model.vision_tower.*``), with or without
CLIP's ``vision_model.`` level. All are mapped
here to ``model.*`` / ``lm_head.weight`` for the language tower and
``vision_tower.vision_model.*`` / ``multi_modal_projector.*`` for the image path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine._hf_folder import read_llama_config, weight_files
from engine.errors import ExportError
from jradi_desktop.models import HFConfig

if TYPE_CHECKING:
    import torch

SUPPORTED = (
    "Llama causal LMs (LlamaForCausalLM: Llama-3-8B, Swallow, MMed-Llama-3, OpenBioLLM) and "
    "LLaVA-style VLMs with a Llama language tower and a CLIP vision tower "
    "(LlavaForConditionalGeneration)"
)

_LANGUAGE_PREFIXES = (
    ("language_model.model.", "model."),
    ("model.language_model.", "model."),
    ("language_model.lm_head.", "lm_head."),
)
_VISION_PREFIXES = (
    ("model.vision_tower.", "vision_tower."),
    ("model.multi_modal_projector.", "multi_modal_projector."),
)


def _canonical(name: str) -> str:
    for old, new in (*_LANGUAGE_PREFIXES, *_VISION_PREFIXES):
        if name.startswith(old):
            name = new + name.removeprefix(old)
            break
    # transformers 5 keeps CLIP's transformer directly under vision_tower (no vision_model).
    if name.startswith("vision_tower.") and not name.startswith("vision_tower.vision_model."):
        name = "vision_tower.vision_model." + name.removeprefix("vision_tower.")
    return name


@dataclass
class Checkpoint:
    """A model folder: its config and a lazy index of its safetensors tensors."""

    folder: Path
    config: HFConfig  # config.json, checked: typed accessors raise ExportError
    kind: str  # "llama" or "llava"
    _files: dict[str, tuple[Path, str]] = field(default_factory=dict, repr=False)

    @property
    def text_config(self) -> HFConfig:
        return self.config.section("text_config") if self.kind == "llava" else self.config

    @property
    def vision_config(self) -> HFConfig:
        return self.config.section("vision_config")

    def files(self) -> list[Path]:
        """The safetensors files, each once."""
        return sorted({path for path, _ in self._files.values()})

    def names(self) -> list[str]:
        return list(self._files)

    def shape(self, name: str) -> list[int]:
        from safetensors import safe_open

        path, raw = self._files[name]
        with safe_open(str(path), framework="pt") as f:
            return list(f.get_slice(raw).get_shape())

    def tensor(self, name: str) -> torch.Tensor:
        """One tensor as float32 on the CPU."""
        from safetensors import safe_open

        path, raw = self._files[name]
        with safe_open(str(path), framework="pt") as f:
            return f.get_tensor(raw).float()


def open_checkpoint(folder: str | Path) -> Checkpoint:
    """Open a model folder for export, refusing what the exporter does not support."""
    from safetensors import safe_open

    folder = Path(folder)
    config, kind = read_llama_config(
        folder, ExportError, f"is not supported. Supported: {SUPPORTED}."
    )
    if kind == "llava":
        vision_type = config.section("vision_config").text("model_type", None)
        if vision_type not in ("clip_vision_model", "clip"):
            raise ExportError(
                f"{folder}: the vision tower is {vision_type!r}; the mmproj exporter supports "
                f"CLIP vision towers. Supported: {SUPPORTED}."
            )
    files: dict[str, tuple[Path, str]] = {}
    for path in weight_files(folder, ExportError):
        with safe_open(str(path), framework="pt") as f:
            for raw in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                files[_canonical(raw)] = (path, raw)
    return Checkpoint(folder=folder, config=config, kind=kind, _files=files)
