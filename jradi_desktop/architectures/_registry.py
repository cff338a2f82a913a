"""The families this project runs, looked up by ``config.json`` or by name.

Declarations are imported on first use (each is small and torch-free); the order of
``_DECLARED`` is the order of detection: the most specific family first.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from jradi_desktop.architectures._base import Architecture, ArchitectureError
from jradi_desktop.architectures._hooks import resolve

_DECLARED = (
    "jradi_desktop.architectures.bunny_s2:BunnyS2",
    "jradi_desktop.architectures.llava_clip:LlavaClip",
    "jradi_desktop.architectures.llama:Llama",
)


@functools.cache
def architectures() -> tuple[Architecture, ...]:
    """Every declared family, in detection order."""
    return tuple(resolve(target)() for target in _DECLARED)


@functools.cache
def chat_templates() -> Mapping[str, str]:
    """Every family's named chat templates (Jinja), name -> text, in detection order: the
    names ``ModelSpec.template`` accepts besides ``"auto"``."""
    return {name: text for arch in architectures() for name, text in arch.chat_templates.items()}


def template_family(name: str) -> Architecture:
    """The family whose template is called ``name``; for ``"auto"`` (or a name no family
    declares) the first family with an image path that names one: the JRadiEvo VLM's."""
    for arch in architectures():
        if name in arch.chat_templates:
            return arch
    return next(a for a in architectures() if a.has_vision and a.template is not None)


def supported() -> str:
    """The families, for messages: "A; B; C"."""
    return "; ".join(a.description for a in architectures())


def detect(config: Mapping[str, Any]) -> Architecture:
    """The family ``config.json`` declares, checked; :class:`ArchitectureError` otherwise."""
    if not isinstance(config, Mapping):
        raise ArchitectureError(f"config.json holds a {type(config).__name__}, not an object")
    for arch in architectures():
        if arch.matches(config):
            arch.check(config)
            return arch
    declared = ", ".join(map(str, config.get("architectures") or ())) or config.get("model_type")
    code = " (it needs custom code, auto_map, which is never run)" if config.get("auto_map") else ""
    raise ArchitectureError(
        f"architecture {declared!r} is not supported{code}. Supported: {supported()}"
    )


def from_keys(keys: Iterable[str]) -> Architecture:
    """The family of a state dict without its ``config.json`` (a live model's, say): the first,
    in detection order, that places one of ``keys`` in its vision part; a Llama when none does.

    A VLM used through its language tower alone (a live Bunny's ``LlamaForCausalLM``) is a
    Llama here: its keys are the Llama's own.
    """
    keys = list(keys)
    for arch in architectures():
        if arch.has_vision and any(
            (split := arch.split_key(key)) is not None and split[0] == "vision" for key in keys
        ):
            return arch
    return get("llama")


def get(name: str) -> Architecture:
    """The family called ``name``; the error lists the valid names."""
    for arch in architectures():
        if arch.name == name:
            return arch
    valid = ", ".join(a.name for a in architectures())
    raise ArchitectureError(f"unknown architecture {name!r}; valid names: {valid}")
