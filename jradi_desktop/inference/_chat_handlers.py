"""llama-cpp-python multimodal chat handlers with the templates our models were trained on."""

from __future__ import annotations

from llama_cpp.llama_chat_format import Llava15ChatHandler

BUNNY_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
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
        "{% for content in message.content %}"
        "{% if content.type == 'image_url' and content.image_url is string %}"
        "{{ content.image_url }}{{ '\n' }}{% endif %}"
        "{% if content.type == 'image_url' and content.image_url is mapping %}"
        "{{ content.image_url.url }}{{ '\n' }}{% endif %}"
        "{% endfor %}"
        "{% for content in message.content %}"
        "{% if content.type == 'text' %}{{ content.text }}{% endif %}"
        "{% endfor %}{% endif %}{% endif %}"
        "{% if message.role == 'assistant' and message.content is not none %}"
        "{{ ' ASSISTANT: ' }}{{ message.content }}{{ eos_token }}{% endif %}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ ' ASSISTANT:' }}{% endif %}"
    )
