"""How a chat message's content is written inside a Jinja chat template, in the two message
formats the runtime renders: Hugging Face's (``{"type": "image"}`` / ``{"type": "text"}``
parts) and llama-cpp-python's (``image_url`` parts, the images' URLs each on its own line
before any text, where mtmd expects them).

The families' templates (``llama``, ``bunny_s2``) are built from these, so each prompt format
is written once for both runtimes.
"""

from __future__ import annotations

# Where a Hugging Face template puts an image: LLaVA's processors and Bunny
# (DEFAULT_IMAGE_TOKEN) expand it into the image's rows; the demo tokenizer's image token.
IMAGE_PLACEHOLDER = "<image>"


def hf_content(trim: bool = False) -> str:
    """A message's content: its text, or its parts with each image as ``<image>`` and a
    newline (the placeholder LLaVA-style processors expand into image rows). ``trim``: strip a
    plain-text content."""
    filt = " | trim" if trim else ""
    return (
        "{% if message['content'] is string %}{{ message['content']" + filt + " }}{% else %}"
        "{% for part in message['content'] %}{% if part['type'] == 'image' %}{{ '"
        + IMAGE_PLACEHOLDER
        + "\n' }}"
        "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    )


def gguf_content(trim: bool = False) -> str:
    """A message's content for llama-cpp-python's chat handlers: its text, or its images'
    URLs (one a line) followed by its text parts. ``trim``: strip every text."""
    filt = " | trim" if trim else ""
    return (
        "{% if message.content is string %}{{ message.content" + filt + " }}{% else %}"
        "{% for content in message.content %}"
        "{% if content.type == 'image_url' and content.image_url is string %}"
        "{{ content.image_url }}{{ '\n' }}{% endif %}"
        "{% if content.type == 'image_url' and content.image_url is mapping %}"
        "{{ content.image_url.url }}{{ '\n' }}{% endif %}"
        "{% endfor %}"
        "{% for content in message.content %}"
        "{% if content.type == 'text' %}{{ content.text" + filt + " }}{% endif %}"
        "{% endfor %}{% endif %}"
    )
