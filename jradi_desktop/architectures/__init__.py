"""Vision-language model families: how each is recognised, where its parts sit in a
checkpoint, and how its image rows are made and placed.

Torch-free at import: ``detect(config)`` and ``get(name)`` return a declaration
(``llama``, ``llava_clip``, ``bunny_s2``), each with its chat templates (``chat_templates()``
by name); ``_s2`` is Bunny's S² glue in numpy and
``_bunny_torch`` builds a Bunny folder as torch modules.
"""

from jradi_desktop.architectures._base import Architecture, ArchitectureError, Part
from jradi_desktop.architectures._registry import (
    architectures,
    chat_templates,
    detect,
    from_keys,
    get,
    supported,
)

__all__ = [
    "Architecture",
    "ArchitectureError",
    "Part",
    "architectures",
    "chat_templates",
    "detect",
    "from_keys",
    "get",
    "supported",
]
