"""A plain Llama causal LM (Llama-3-8B and the specialists JRadiEvo merges): no image path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from jradi_desktop.architectures._base import Architecture, ArchitectureError, Part


class Llama(Architecture):
    name: ClassVar[str] = "llama"
    description: ClassVar[str] = "Llama causal LMs (LlamaForCausalLM)"
    has_vision: ClassVar[bool] = False
    model_type: ClassVar[str] = "llama"
    classes: ClassVar[tuple[str, ...]] = ("LlamaForCausalLM",)

    @classmethod
    def matches(cls, config: Mapping[str, Any]) -> bool:
        return config.get("model_type") == cls.model_type

    def split_key(self, key: str) -> tuple[Part, str] | None:
        return ("language", key) if key.startswith(("model.", "lm_head.")) else None

    def stored_key(self, part: Part, name: str) -> str:
        if part != "language":
            raise ArchitectureError(f"a Llama has no {part} part")
        return name

    def text_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return dict(config)
