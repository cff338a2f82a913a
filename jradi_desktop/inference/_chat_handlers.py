"""llama-cpp-python multimodal chat handlers with the templates our models were trained on.

Imports llama_cpp at module level: import this module only where a GGUF model is loaded.
"""

from __future__ import annotations

from llama_cpp.llama_chat_format import Llava15ChatHandler

from jradi_desktop.architectures.bunny_s2 import BUNNY_GGUF_FORMAT, BUNNY_SYSTEM
from jradi_desktop.architectures.llama import LLAMA3_GGUF_FORMAT

__all__ = ["BunnyChatHandler", "Llama3VisionChatHandler"]


class BunnyChatHandler(Llava15ChatHandler):
    """Bunny's Vicuna-style prompt, ``<system> USER: <image>\\n{prompt} ASSISTANT:``.

    llama-cpp-python's LLaVA-1.5 handler puts newlines before ``USER:``/``ASSISTANT:`` and the
    image before the text without a newline; Bunny (and so JRadiEvo) does not, and a prompt
    that differs from training changes the report. BOS is added by the tokenizer (mtmd).
    """

    DEFAULT_SYSTEM_MESSAGE = BUNNY_SYSTEM
    CHAT_FORMAT = BUNNY_GGUF_FORMAT


class Llama3VisionChatHandler(Llava15ChatHandler):
    """Llama-3 Instruct headers with images first in the user turn, system messages kept.

    llama-cpp-python's ``Llama3VisionAlphaChatHandler`` drops the role of system messages;
    this one renders them as a ``system`` header. BOS is added by the tokenizer (mtmd).
    """

    DEFAULT_SYSTEM_MESSAGE = None
    CHAT_FORMAT = LLAMA3_GGUF_FORMAT
