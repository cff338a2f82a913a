"""Lazy references: a family names the code that serves it as ``"module:attr"`` strings.

A declaration stays torch-free and imports nothing above ``architectures``: the code a family
hands to the app, the model check or the engine (its shape rules, HF loader, GGUF chat handler,
evolution dev set, demo builder, vision export) is imported only when it is asked for, here.
"""

from __future__ import annotations

import importlib
from typing import Any


def resolve(target: str) -> Any:
    """The object ``"package.module:attr"`` names (``attr`` may be dotted)."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"{target!r} is not a 'module:attr' reference")
    found: Any = importlib.import_module(module)
    for name in attr.split("."):
        found = getattr(found, name)
    return found
