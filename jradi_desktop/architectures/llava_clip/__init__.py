"""LLaVA-1.5 style: a CLIP vision tower, a two-layer projector, a Llama (the stand-in the
project grew up on, and what llama.cpp's mmproj runs).

Stored names (transformers 5 writes the old ones): ``language_model.model.*`` /
``language_model.lm_head.*``, ``vision_tower.[vision_model.]*``, ``multi_modal_projector.*``;
in-memory names: ``model.language_model.*``, ``lm_head.*``, ``model.vision_tower.*``,
``model.multi_modal_projector.*``.

The family in one package: this declaration (with the hooks every other layer dispatches on,
``LlavaClip.hooks``) and ``_shapes`` (the model check's rules). transformers loads it with its
own Auto classes, so it names no ``hf_loader``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from jradi_desktop.architectures._base import Architecture, ArchitectureError, Part

_LANGUAGE = (
    ("language_model.model.", "model."),
    ("model.language_model.", "model."),
    ("language_model.lm_head.", "lm_head."),
    ("lm_head.", "lm_head."),
)
_VISION = ("model.vision_tower.", "vision_tower.")
_PROJECTOR = ("model.multi_modal_projector.", "multi_modal_projector.")
_STORED: Mapping[Part, str] = {
    "vision": "vision_tower.vision_model.",
    "projector": "multi_modal_projector.",
}


class LlavaClip(Architecture):
    name: ClassVar[str] = "llava_clip"
    description: ClassVar[str] = (
        "LLaVA-style VLMs with a CLIP vision tower and a Llama (LlavaForConditionalGeneration)"
    )
    template: ClassVar[str | None] = None
    model_type: ClassVar[str] = "llava"
    classes: ClassVar[tuple[str, ...]] = ("LlavaForConditionalGeneration",)
    demo_layout: ClassVar[str | None] = "llava"
    hooks: ClassVar[Mapping[str, str]] = {
        "shape_rules": "jradi_desktop.architectures.llava_clip._shapes:vision_rules",
        "evolve_dev_set": "engine.evolve._vlm:LlavaDevSet",
        "demo_builder": "engine.demo:write_llava_vlm",
        "export": "engine.export._export:CLIP_EXPORT",
    }

    @classmethod
    def matches(cls, config: Mapping[str, Any]) -> bool:
        return config.get("model_type") == cls.model_type

    def split_key(self, key: str) -> tuple[Part, str] | None:
        for old, new in _LANGUAGE:
            if key.startswith(old):
                return "language", new + key.removeprefix(old)
        for prefix in _VISION:
            if key.startswith(prefix):
                name = key.removeprefix(prefix)
                # transformers 5 keeps CLIP's transformer directly under the tower
                return "vision", name.removeprefix("vision_model.")
        for prefix in _PROJECTOR:
            if key.startswith(prefix):
                return "projector", key.removeprefix(prefix)
        return None

    def stored_key(self, part: Part, name: str) -> str:
        if part == "language":
            return "language_model." + name
        return _STORED[part] + name

    def text_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return dict(config.get("text_config") or {})

    def check(self, config: Mapping[str, Any]) -> None:
        if not isinstance(config.get("text_config"), Mapping):
            raise ArchitectureError(
                "a LLaVA config.json needs a text_config object (the language tower's settings)"
            )
        super().check(config)
