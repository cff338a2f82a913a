"""A plain Llama causal LM (Llama-3-8B and the specialists JRadiEvo merges): no image path.

Also the Llama-3 Instruct prompt format (``<|start_header_id|>role<|end_header_id|>`` headers,
``<|eot_id|>`` after each turn), as the templates the runtime and the demo models use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from jradi_desktop.architectures._base import Architecture, ArchitectureError, Part
from jradi_desktop.architectures._chat import gguf_content, hf_content

LLAMA3 = "llama3"  # the Llama-3 template's name (ModelSpec.template)
_HEADER = "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
_EOT = "'<|eot_id|>'"
_GENERATION = (
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)


def _llama3(content: str) -> str:
    return (
        "{% for message in messages %}{{ " + _HEADER + " }}" + content + "{{ " + _EOT + " }}"
        "{% endfor %}" + _GENERATION
    )


# Image parts as ``<image>`` lines (Hugging Face processors).
LLAMA3_CHAT_TEMPLATE = "{{ bos_token }}" + _llama3(hf_content(trim=True))
# llama-cpp-python's handler: images first in the user turn; BOS comes from the tokenizer (mtmd).
LLAMA3_GGUF_FORMAT = _llama3(gguf_content(trim=True))
# Text turns only: what a Llama-3 tokenizer carries (the demo models' ``tokenizer_config.json``).
LLAMA3_TEXT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ " + _HEADER + " + message['content'] | trim + " + _EOT + " }}{% endfor %}" + _GENERATION
)


class Llama(Architecture):
    name: ClassVar[str] = "llama"
    description: ClassVar[str] = "Llama causal LMs (LlamaForCausalLM)"
    has_vision: ClassVar[bool] = False
    model_type: ClassVar[str] = "llama"
    classes: ClassVar[tuple[str, ...]] = ("LlamaForCausalLM",)
    # named, not the default: a Llama folder's own template is used for "auto"
    chat_templates: ClassVar[Mapping[str, str]] = {LLAMA3: LLAMA3_CHAT_TEMPLATE}
    # its template with an mmproj (a VLM run with ``template="llama3"``)
    hooks: ClassVar[Mapping[str, str]] = {
        "gguf_chat_handler": "jradi_desktop.inference._chat_handlers:Llama3VisionChatHandler"
    }

    @classmethod
    def matches(cls, config: Mapping[str, Any]) -> bool:
        return config.get("model_type") == cls.model_type

    def split_key(self, key: str) -> tuple[Part, str] | None:
        return ("language", key) if key.startswith(("model.", "lm_head.")) else None

    def stored_key(self, part: Part, name: str) -> str:
        if part != "language":
            raise ArchitectureError(f"a Llama has no {part} part")
        return name

    def text_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return dict(config)
