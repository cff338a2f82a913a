"""Chat templates by name: ``auto`` (the model's own) or one the architecture registry names."""

from __future__ import annotations

from jradi_desktop.architectures import chat_templates
from jradi_desktop.inference._errors import ModelLoadError


def template_for(name: str) -> str | None:
    """The Jinja template called ``name``; None for ``"auto"`` (the model's own)."""
    if name == "auto":
        return None
    try:
        return chat_templates()[name]
    except KeyError:
        valid = ", ".join(["auto", *chat_templates()])
        raise ModelLoadError(
            f"チャットテンプレート「{name}」は不明です。使えるのは {valid} です。",
            f"Unknown chat template {name!r}; valid names: {valid}.",
        ) from None
