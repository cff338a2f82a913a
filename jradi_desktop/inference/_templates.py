"""Chat templates by name, as Jinja strings in Hugging Face's message format.

``{"type": "image"}`` parts become ``<image>`` followed by a newline, the placeholder LLaVA-style
processors expand into image tokens. llama.cpp's equivalents are in ``_chat_handlers.py``.
"""

from __future__ import annotations

from jradi_desktop.inference._errors import ModelLoadError

BUNNY_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)

_CONTENT = (
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}{{ '<image>\n' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
)

# Bunny's Vicuna-style prompt "<system> USER: <image>\n{prompt} ASSISTANT:" (JRadiEvo), with the
# system message replaceable (Bunny's own when none is given). No BOS: the tokenizer adds it.
BUNNY_CHAT_TEMPLATE = (
    "{% if messages and messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}"
    "{% set rest = messages[1:] %}{% else %}{{ '" + BUNNY_SYSTEM.replace("'", "\\'") + "' }}"
    "{% set rest = messages %}{% endif %}"
    "{% for message in rest %}"
    "{% if message['role'] == 'user' %}{{ ' USER: ' }}" + _CONTENT + "{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ ' ASSISTANT: ' }}" + _CONTENT + "{{ eos_token }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ ' ASSISTANT:' }}{% endif %}"
)

# Llama-3 Instruct's header format.
LLAMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}"
    + _CONTENT.replace("{{ message['content'] }}", "{{ message['content'] | trim }}")
    + "{{ '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)

TEMPLATES: dict[str, str] = {"bunny": BUNNY_CHAT_TEMPLATE, "llama3": LLAMA3_CHAT_TEMPLATE}


def template_for(name: str) -> str | None:
    """The Jinja template called ``name``; None for ``"auto"`` (the model's own)."""
    if name == "auto":
        return None
    try:
        return TEMPLATES[name]
    except KeyError:
        valid = ", ".join(["auto", *TEMPLATES])
        raise ModelLoadError(
            f"チャットテンプレート「{name}」は不明です。使えるのは {valid} です。",
            f"Unknown chat template {name!r}; valid names: {valid}.",
        ) from None
