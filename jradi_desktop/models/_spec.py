"""What a model is, for the app: files, kind and how to run them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from jradi_desktop.architectures import Architecture, ArchitectureError, chat_templates, detect

ModelKind = Literal["gguf", "hf"]
# Prompt templates the runtime knows by name; "auto" takes the GGUF's or the HF folder's own.
TEMPLATES = ("auto", *chat_templates())


def default_model_name(path: str | Path) -> str:
    """``…/jradievo/model.gguf`` → ``jradievo`` (the exporter's layout); else the file stem;
    a folder's own name for a Hugging Face folder."""
    path = Path(path)
    if path.suffix.lower() == ".gguf":
        return path.parent.name if path.stem.lower() in ("model", "ggml-model") else path.stem
    return path.name


@dataclass
class ModelSpec:
    """One model the app can load.

    ``path`` is the GGUF file (kind ``gguf``) or the Hugging Face folder (kind ``hf``);
    ``mmproj`` is the vision encoder + projector, needed for reports from a GGUF model: an
    ``mmproj`` GGUF (LLaVA/CLIP) or an exported S² vision folder (Bunny-v1.1).
    """

    name: str
    kind: ModelKind
    path: Path
    mmproj: Path | None = None
    template: str = "auto"
    context: int = 4096
    n_gpu_layers: int = -1  # -1: all layers on the GPU when there is one
    threads: int | None = None  # None: llama.cpp's default
    allow_remote_code: bool = False  # HF only: trust_remote_code, an explicit per-model opt-in
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def architecture(self) -> Architecture | None:
        """The family a HF folder's ``config.json`` declares (the architecture registry);
        None for a GGUF, an unreadable config or a family the registry does not run."""
        if self.kind != "hf":
            return None
        try:
            config = json.loads((Path(self.path) / "config.json").read_text(encoding="utf-8"))
            return detect(config)
        except (OSError, ValueError, ArchitectureError):  # JSON errors are ValueErrors
            return None

    @property
    def has_vision(self) -> bool:
        if self.kind == "gguf":
            return self.mmproj is not None
        arch = self.architecture
        if arch is not None:
            return arch.has_vision
        # another family, run by transformers' Auto classes: a processor means images
        return (Path(self.path) / "preprocessor_config.json").is_file() or (
            Path(self.path) / "processor_config.json"
        ).is_file()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        data["mmproj"] = str(self.mmproj) if self.mmproj else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelSpec:
        data = dict(data)
        data["path"] = Path(data["path"])
        data["mmproj"] = Path(data["mmproj"]) if data.get("mmproj") else None
        return cls(**data)
