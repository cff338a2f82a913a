"""Bunny's prompt as ids (bunny-v1.1.md §4, ``tokenizer_image_token``), the one assembly of
the HF backend and the evolution's dev set: the chat rendered with the template, split at
``<image>``, each chunk tokenised on its own with BOS, one BOS kept at the start, one
``IMAGE_TOKEN_INDEX`` where each image goes. Never the joined string: the merges across a
placeholder would differ. Torch-free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jradi_desktop.architectures._chat import IMAGE_PLACEHOLDER
from jradi_desktop.architectures.bunny_s2 import IMAGE_TOKEN_INDEX


def prompt_ids(text: str, encode: Callable[[str], Sequence[int]], bos: int | None) -> list[int]:
    """A rendered prompt as Bunny tokenises it: split at ``<image>``, each chunk tokenised on
    its own with BOS (``encode``), one BOS kept at the start, one ``IMAGE_TOKEN_INDEX`` per
    placeholder."""
    chunks = []
    for chunk in text.split(IMAGE_PLACEHOLDER):
        ids = list(encode(chunk))
        if bos is not None and ids[:1] == [bos]:
            ids = ids[1:]
        chunks.append(ids)
    out = [bos] if bos is not None else []
    for n, chunk in enumerate(chunks):
        if n:
            out.append(IMAGE_TOKEN_INDEX)
        out.extend(chunk)
    return out


def chat_prompt_ids(
    tokenizer: Any, messages: Sequence[Mapping[str, Any]], template: str | None, bos: int | None
) -> list[int]:
    """``messages`` rendered with ``template`` (None: the tokenizer's own) and a generation
    prompt, as Bunny's ids. A template that writes BOS itself (Llama-3's) loses it first: the
    chunks bring their own."""
    text = tokenizer.apply_chat_template(
        list(messages), chat_template=template, add_generation_prompt=True, tokenize=False
    )
    bos_text = tokenizer.bos_token
    if bos_text and text.startswith(bos_text):
        text = text[len(bos_text) :]

    def encode(chunk: str) -> list[int]:
        return tokenizer(chunk, add_special_tokens=True)["input_ids"]

    return prompt_ids(text, encode, bos)
