"""Vision-language model families: how each is recognised, where its parts sit in a
checkpoint, and how its image rows are made and placed.

Torch-free at import: ``detect(config)`` and ``get(name)`` return a declaration
(``llama``, ``llava_clip``, ``bunny_s2``), each with its chat templates (``chat_templates()``
by name) and the hooks the rest of the code dispatches on (``Architecture.hook``; every family
with an image path names ``VISION_HOOKS``). A family with an image path is a package
(``bunny_s2/``: declaration, S² glue, ONNX runtime, torch model, prompt, shape rules;
``llava_clip/``); ``shards`` finds a folder's weight files.
"""

from jradi_desktop.architectures._base import (
    OPTIONAL_HOOKS,
    VISION_HOOKS,
    Architecture,
    ArchitectureError,
    Part,
)
from jradi_desktop.architectures._chat import IMAGE_PLACEHOLDER
from jradi_desktop.architectures._hooks import resolve
from jradi_desktop.architectures._registry import (
    architectures,
    chat_templates,
    detect,
    from_keys,
    get,
    supported,
    template_family,
)

__all__ = [
    "IMAGE_PLACEHOLDER",
    "OPTIONAL_HOOKS",
    "VISION_HOOKS",
    "Architecture",
    "ArchitectureError",
    "Part",
    "architectures",
    "chat_templates",
    "detect",
    "from_keys",
    "get",
    "resolve",
    "supported",
    "template_family",
]
