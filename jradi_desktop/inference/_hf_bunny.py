"""Bunny folders (``bunny-llama``) in the HF backend, without their custom code.

The family's ``hf_loader`` hook. The model is
:func:`~jradi_desktop.architectures.bunny_s2.load_bunny` (transformers' ``LlamaForCausalLM`` +
SigLIP trunk + S² + projector), the tokenizer the folder's ``tokenizer.json``
(``AutoTokenizer`` would ask for the ``bunny-llama`` config class). A prompt is made as Bunny
makes it (``bunny_s2.chat_prompt_ids``, bunny-v1.1.md §4), each image's rows spliced in at
its placeholder. The
backend then calls ``language.generate(inputs_embeds=..., attention_mask=...)``, which returns
only the new tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jradi_desktop.inference._errors import InvalidRequestError, ModelLoadError
from jradi_desktop.inference._images import to_pil

if TYPE_CHECKING:
    import torch

    from jradi_desktop.inference._backend import Message


class BunnyParts:
    """A loaded Bunny folder: ``model`` (a ``BunnyModel``), ``tokenizer`` and the prompt."""

    def __init__(self, path: Path, dtype: torch.dtype, device: str) -> None:
        from transformers import PreTrainedTokenizerFast

        from jradi_desktop.architectures.bunny_s2 import load_bunny

        if not (path / "tokenizer.json").is_file():
            err = ModelLoadError(
                f"「{path}」にトークナイザー（tokenizer.json）がありません。モデルに付属の"
                "tokenizer.json を同じフォルダーに置いてください。",
                f'"{path}" has no tokenizer (tokenizer.json); put the tokenizer.json that came '
                "with the model in the folder.",
            )
            err.path = str(path / "tokenizer.json")
            raise err
        self.model = load_bunny(path, dtype, device)
        self.tokenizer = PreTrainedTokenizerFast.from_pretrained(path, local_files_only=True)
        bos = self.tokenizer.bos_token_id
        self.bos = bos if bos is not None else self.model.language.generation_config.bos_token_id

    def prompt_ids(self, messages: Sequence[Message], template: str) -> list[int]:
        """The rendered chat as Bunny's ids: ``IMAGE_TOKEN_INDEX`` where each image goes."""
        from jradi_desktop.architectures.bunny_s2 import chat_prompt_ids

        chat = [{"role": m["role"], "content": m.get("content") or ""} for m in messages]
        return chat_prompt_ids(self.tokenizer, chat, template, self.bos)

    def prompt_length(self, ids: Sequence[int]) -> int:
        """Rows of the prompt once each placeholder holds its image's rows."""
        from jradi_desktop.architectures.bunny_s2 import IMAGE_TOKEN_INDEX

        images = sum(1 for token in ids if token == IMAGE_TOKEN_INDEX)
        return len(ids) - images + images * self.model.image_tokens

    def inputs(self, ids: Sequence[int], images: Sequence[Any]) -> dict[str, Any]:
        """``inputs_embeds`` and ``attention_mask`` for ``generate``: text rows and image rows
        at contiguous positions (the image rows of each image in the order given)."""
        import torch

        from jradi_desktop.architectures.bunny_s2 import IMAGE_TOKEN_INDEX

        placeholders = sum(1 for token in ids if token == IMAGE_TOKEN_INDEX)
        if placeholders != len(images):  # e.g. a user's text that itself holds "<image>"
            raise InvalidRequestError(
                f"プロンプト中の <image> の数（{placeholders}）が画像の数（{len(images)}）と"
                "一致しません。テキストに <image> と書かないでください。",
                f"the prompt holds {placeholders} <image> placeholder(s) for {len(images)} "
                'image(s); do not write "<image>" in the text.',
            )
        model = self.model
        with torch.inference_mode():
            rows = [model.image_rows(model.pixels(to_pil(image)))[0] for image in images]
            embeds = model.embed(ids, rows)
        mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device)
        return {"inputs_embeds": embeds, "attention_mask": mask}

    def close(self) -> None:
        self.model = None
        self.tokenizer = None
