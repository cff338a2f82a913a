"""What every model family declares: how a folder is recognised and where its parts sit.

A checkpoint key belongs to one *part*: ``language`` (the Llama: canonical names are plain
``LlamaForCausalLM`` names, ``model.layers.N.*`` / ``model.embed_tokens.weight`` /
``model.norm.weight`` / ``lm_head.weight``), ``vision`` (canonical names relative to the
vision model: ``embeddings.*``, ``encoder.layers.N.*``, ...) or ``projector`` (relative to
the projector: ``linear_1.weight``, ``0.weight``, ...). Tools ask an :class:`Architecture`
instead of matching key strings (mergekit's architecture declarations are the model).

A family with an image path also names, as lazy ``"module:attr"`` hooks (:attr:`hooks`,
resolved by :meth:`Architecture.hook`), the code every other layer dispatches on, so adding a
family is its package, its test and its README row, and no table elsewhere names it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from jradi_desktop.architectures._hooks import resolve

Part = Literal["language", "vision", "projector"]

# What a family with an image path names (``Architecture.hooks``); each is a "module:attr":
VISION_HOOKS: Mapping[str, str] = {
    "shape_rules": "(rules, config, text_hidden) -> None: its vision tower and projector "
    "against config.json (models' shape check)",
    "evolve_dev_set": "a DevSet class: the dev set as the VLM sees it (engine.evolve)",
    "demo_builder": "(engine.demo.DemoVlm) -> None: the demo VLM in this layout",
    "export": "a VisionExport: check, writer and description of its GGUF-side image path "
    "(engine.export)",
}
# Named only where a family needs them: ``hf_loader`` for a family transformers' Auto classes
# cannot load (its parts object; without it, AutoModelForImageTextToText and its processor);
# ``gguf_chat_handler`` for a family that names a template (llama-cpp-python's handler for it
# with an mmproj).
OPTIONAL_HOOKS = ("hf_loader", "gguf_chat_handler")


class ArchitectureError(ValueError):
    """A config or checkpoint this architecture cannot run; the message says why."""


class Architecture(ABC):
    """One model family. Stateless: the methods take the folder's ``config.json``.

    Contract: ``matches`` decides from ``config.json`` alone; ``split_key`` accepts every key
    the family's writers use (stored and in-memory names) and maps each to one canonical
    ``(part, name)``; ``stored_key`` is its inverse for the layout this project writes.
    """

    name: ClassVar[str]
    description: ClassVar[str]  # for messages: "Bunny-v1.1 (SigLIP S² + mlp2x_gelu + Llama)"
    has_vision: ClassVar[bool] = True
    template: ClassVar[str | None] = None  # chat template for "auto"; None: the folder's own
    chat_templates: ClassVar[Mapping[str, str]] = {}  # the Jinja templates it names
    model_type: ClassVar[str]  # config.json's model_type for this family
    classes: ClassVar[tuple[str, ...]] = ()  # config.json architectures that name it
    language_tower: ClassVar[str] = "llama"  # the family its language tower is, taken out alone
    demo_layout: ClassVar[str | None] = None  # its name for ``jradi-engine demo-models --vlm``
    hooks: ClassVar[Mapping[str, str]] = {}  # hook name -> "module:attr" (VISION_HOOKS, ...)

    @classmethod
    @abstractmethod
    def matches(cls, config: Mapping[str, Any]) -> bool:
        """``config.json`` declares this family (the language tower is not checked here)."""

    @abstractmethod
    def split_key(self, key: str) -> tuple[Part, str] | None:
        """The part and canonical name of a checkpoint key; None for keys of no part
        (buffers such as ``position_ids``)."""

    @abstractmethod
    def stored_key(self, part: Part, name: str) -> str:
        """The key this project writes for a canonical ``(part, name)``."""

    @abstractmethod
    def text_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The language tower's config as a ``LlamaConfig`` would take it."""

    def check(self, config: Mapping[str, Any]) -> None:
        """Raise :class:`ArchitectureError` when the folder is of this family but something
        it needs is not supported (e.g. a language tower that is not a Llama)."""
        text = self.text_config(config)
        if text.get("model_type", "llama") != "llama":
            raise ArchitectureError(
                f"its language tower is {text.get('model_type')!r}; supported: a Llama"
            )

    def hook(self, name: str) -> Any:
        """The object the hook ``name`` names, imported now; :class:`ArchitectureError` when
        this family names none."""
        target = self.hooks.get(name)
        if target is None:
            names = ", ".join(sorted(self.hooks)) or "none"
            raise ArchitectureError(f"{self.description} names no {name!r} hook; it names: {names}")
        return resolve(target)

    def parts(self, keys: Iterable[str]) -> dict[Part, dict[str, str]]:
        """``keys`` by part: canonical name -> key (keys of no part are left out)."""
        out: dict[Part, dict[str, str]] = {"language": {}, "vision": {}, "projector": {}}
        for key in keys:
            split = self.split_key(key)
            if split is not None:
                out[split[0]][split[1]] = key
        return out

    def language_name(self, key: str) -> str | None:
        """The Llama name of a language-tower key, None for any other key."""
        split = self.split_key(key)
        return split[1] if split is not None and split[0] == "language" else None
