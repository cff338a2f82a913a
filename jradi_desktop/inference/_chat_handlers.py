"""llama-cpp-python multimodal chat handlers with the templates our models were trained on.

Imports llama_cpp at module level: import this module only where a GGUF model is loaded.
"""

from __future__ import annotations

from llama_cpp.llama_chat_format import Llava15ChatHandler

from jradi_desktop.inference._templates import BUNNY_SYSTEM

__all__ = ["BUNNY_SYSTEM", "BunnyChatHandler", "Llama3VisionChatHandler"]

# A user turn's images (mtmd's image URLs), each on its own line, before any of its text.
_IMAGES_FIRST = (
    "{% for content in message.content %}"
    "{% if content.type == 'image_url' and content.image_url is string %}"
    "{{ content.image_url }}{{ '\n' }}{% endif %}"
    "{% if content.type == 'image_url' and content.image_url is mapping %}"
    "{{ content.image_url.url }}{{ '\n' }}{% endif %}"
    "{% endfor %}"
)


class BunnyChatHandler(Llava15ChatHandler):
    """Bunny's Vicuna-style prompt, ``<system> USER: <image>\\n{prompt} ASSISTANT:``.

    llama-cpp-python's LLaVA-1.5 handler puts newlines before ``USER:``/``ASSISTANT:`` and the
    image before the text without a newline; Bunny (and so JRadiEvo) does not, and a prompt
    that differs from training changes the report. BOS is added by the tokenizer (mtmd).
    """

    DEFAULT_SYSTEM_MESSAGE = BUNNY_SYSTEM
    CHAT_FORMAT = (
        "{% for message in messages %}"
        "{% if message.role == 'system' %}{{ message.content }}{% endif %}"
        "{% if message.role == 'user' %}{{ ' USER: ' }}"
        "{% if message.content is string %}{{ message.content }}{% else %}"
        + _IMAGES_FIRST
        + "{% for content in message.content %}"
        "{% if content.type == 'text' %}{{ content.text }}{% endif %}"
        "{% endfor %}{% endif %}{% endif %}"
        "{% if message.role == 'assistant' and message.content is not none %}"
        "{{ ' ASSISTANT: ' }}{{ message.content }}{{ eos_token }}{% endif %}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ ' ASSISTANT:' }}{% endif %}"
    )


class Llama3VisionChatHandler(Llava15ChatHandler):
    """Llama-3 Instruct headers with images first in the user turn, system messages kept.

    llama-cpp-python's ``Llama3VisionAlphaChatHandler`` drops the role of system messages;
    this one renders them as a ``system`` header. BOS is added by the tokenizer (mtmd).
    """

    DEFAULT_SYSTEM_MESSAGE = None
    CHAT_FORMAT = (
        "{% for message in messages %}"
        "{{ '<|start_header_id|>' + message.role + '<|end_header_id|>\n\n' }}"
        "{% if message.content is string %}{{ message.content | trim }}{% else %}"
        + _IMAGES_FIRST
        + "{% for content in message.content %}"
        "{% if content.type == 'text' %}{{ content.text | trim }}{% endif %}"
        "{% endfor %}{% endif %}"
        "{{ '<|eot_id|>' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
        "{% endif %}"
    )
