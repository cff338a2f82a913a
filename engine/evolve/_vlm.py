"""The dev set as the VLM sees it, prepared once per run: one class per model family.

``open_dev_set`` asks the architecture registry for the VLM folder's family and opens the
dev set its ``evolve_dev_set`` hook names:

- ``llava_clip``: transformers' LLaVA and its processor. The prompt and images go through the
  processor once (left padding) and each batch's image features (vision tower + projector) are
  computed once, for the fast decoder; ``generate`` takes the pixel values (the model's own
  image path, which encodes the images again at every call: the fallback and the check).
- ``bunny_s2``: ``BunnyModel`` (transformers' Llama and SigLIP trunk, our S² and projector;
  never the folder's custom code). Every dev image's projected S² rows are computed once, here;
  the prompt is assembled as Bunny does (``bunny_s2.chat_prompt_ids``, bunny-v1.1.md §4) and
  the rows spliced in at the placeholder; ``generate`` of the
  Llama takes ``inputs_embeds``, so no trial ever runs the vision path.

In both the merge target is the live language tower. Per trial only the text rows are embedded
again (the merge changes ``embed_tokens``); the image rows never change. ``images_encoded``
counts the images run through the vision tower and projector since the dev set was opened.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.data import ReportPair
from engine.evolve._errors import EvolveError
from engine.evolve._greedy import shared_prefix
from jradi_desktop.architectures import (
    Architecture,
    ArchitectureError,
    chat_templates,
    detect,
    supported,
)
from jradi_desktop.architectures.bunny_s2 import IMAGE_TOKEN_INDEX
from jradi_desktop.architectures.stops import end_of_generation_ids

if TYPE_CHECKING:
    import torch


def vlm_family(vlm_dir: str | Path) -> Architecture:
    """The registry's family of the VLM folder; ``EvolveError`` unless the evolution runs it."""
    path = Path(vlm_dir) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        family = detect(config)
    except (OSError, ValueError) as exc:  # ArchitectureError is a ValueError
        reason = exc if isinstance(exc, ArchitectureError) else f"unreadable ({exc})"
        raise EvolveError(f"{path}: the VLM's config: {reason}") from exc
    if not family.has_vision:
        raise EvolveError(
            f"{path}: the model with role vlm is a {family.description}, which has no image "
            f"path; the evolution needs a VLM: {supported()}"
        )
    return family


@dataclass(frozen=True)
class DevSetup:
    """What a dev set is built from: the VLM folder, its family, the pairs and how to batch
    them."""

    vlm_dir: Path
    family: Architecture
    pairs: Sequence[ReportPair]
    device: torch.device
    dtype: torch.dtype
    batch_size: int
    image_size: tuple[int, int]

    def chunks(self) -> Iterator[Sequence[ReportPair]]:
        """The pairs in batches of ``batch_size``, in order."""
        for start in range(0, len(self.pairs), self.batch_size):
            yield self.pairs[start : start + self.batch_size]


@dataclass
class DevBatch:
    """One batch of dev pairs, ready to embed: what its family keeps of it."""

    size: int
    attention_mask: torch.Tensor
    shared_prefix: int
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)  # LLaVA: the processor's
    ids: list[int] = field(default_factory=list)  # Bunny: the prompt's §4 ids, placeholder in
    rows: torch.Tensor | None = None  # the projected image rows, once computed


class DevSet(ABC):
    """The live VLM and the dev batches of one family.

    Contract: ``merge_target`` is what ``MergeContext.merge_into`` writes (the language tower
    inside); ``decoder_model`` what ``GreedyDecoder`` runs; ``embeds`` builds a batch's prompt
    rows from the live embedding table and the cached image rows; ``generate`` is transformers'
    greedy ``generate`` on the batch (new tokens only); ``decode`` turns new tokens into text.
    Not thread-safe.
    """

    family: str  # the registry's name of the VLM's family
    merge_target: Any
    decoder_model: Any
    batches: list[DevBatch]
    images_encoded: int = 0
    bos_token_id: int | None
    eos_token_ids: list[int]
    pad_token_id: int

    @abstractmethod
    def embeds(self, batch: DevBatch) -> torch.Tensor:
        """``[batch, prompt, hidden]``: the text rows from the live model, the image rows."""

    @abstractmethod
    def generate(self, batch: DevBatch, config: Any, stopping_criteria: Any = None) -> torch.Tensor:
        """transformers' ``generate`` (``config``: a ``GenerationConfig``): new tokens."""

    @abstractmethod
    def decode(self, new_tokens: torch.Tensor) -> list[str]:
        """The texts of new tokens, special tokens skipped, stripped."""


class LlavaDevSet(DevSet):
    """A LLaVA-style VLM through transformers' own model and processor."""

    def __init__(self, setup: DevSetup) -> None:
        vlm_dir, device, dtype = setup.vlm_dir, setup.device, setup.dtype
        self.family = setup.family.name
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from jradi_desktop.inference import build_report_messages

        model = AutoModelForImageTextToText.from_pretrained(
            vlm_dir, dtype=dtype, use_safetensors=True
        )
        self.model = model.to(device).eval().requires_grad_(False)
        self.merge_target = self.decoder_model = self.model
        self.dtype = dtype
        self.processor = AutoProcessor.from_pretrained(vlm_dir)
        tokenizer = self.processor.tokenizer
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        generation = self.model.generation_config
        self.bos_token_id = generation.bos_token_id
        self.eos_token_ids = end_of_generation_ids(tokenizer.get_vocab(), generation.eos_token_id)
        self.pad_token_id = tokenizer.pad_token_id
        config = self.model.config
        self.image_token_id = getattr(config, "image_token_id", None)
        if self.image_token_id is None:
            self.image_token_id = config.image_token_index
        prompt = self.processor.apply_chat_template(
            build_report_messages(), add_generation_prompt=True
        )
        self.batches = []
        for chunk in setup.chunks():
            images = [pair.model_image(setup.image_size) for pair in chunk]
            inputs = self.processor(
                images=images, text=[prompt] * len(chunk), padding=True, return_tensors="pt"
            )
            inputs = {k: v.to(device) for k, v in inputs.items()}
            inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
            mask = inputs["attention_mask"]
            prefix = shared_prefix(inputs["input_ids"], mask, self.image_token_id)
            rows = llava_image_features(self.model, inputs["pixel_values"]).to(dtype)
            self.images_encoded += len(chunk)
            self.batches.append(DevBatch(len(chunk), mask, prefix, inputs=inputs, rows=rows))

    def embeds(self, batch: DevBatch) -> torch.Tensor:
        return llava_embed(self.model, batch.inputs["input_ids"], batch.rows, self.image_token_id)

    def generate(self, batch: DevBatch, config: Any, stopping_criteria: Any = None) -> torch.Tensor:
        import torch

        self.images_encoded += batch.size  # generate runs the vision path itself
        with torch.inference_mode():
            out = self.model.generate(
                **batch.inputs, generation_config=config, stopping_criteria=stopping_criteria
            )
        return out[:, batch.inputs["input_ids"].shape[1] :]

    def decode(self, new_tokens: torch.Tensor) -> list[str]:
        texts = self.processor.batch_decode(new_tokens, skip_special_tokens=True)
        return [t.strip() for t in texts]


def llava_image_features(model: Any, pixel_values: torch.Tensor) -> torch.Tensor:
    """A LLaVA's projected image features of a batch, one row per image token (its own path:
    vision tower, feature layer and selection, projector)."""
    import torch

    config = model.config
    with torch.inference_mode():
        out = model.model.get_image_features(
            pixel_values=pixel_values,
            vision_feature_layer=config.vision_feature_layer,
            vision_feature_select_strategy=config.vision_feature_select_strategy,
        )
    features = out.pooler_output if hasattr(out, "pooler_output") else out
    if isinstance(features, list | tuple):
        features = torch.cat(list(features), dim=0)
    return features.reshape(-1, features.shape[-1])


def llava_embed(
    model: Any, input_ids: torch.Tensor, features: torch.Tensor, image_token_id: int
) -> torch.Tensor:
    """The live model's token embeddings with the image features in the image slots."""
    import torch

    with torch.inference_mode():
        embeds = model.get_input_embeddings()(input_ids)
        slots = input_ids == image_token_id
        if int(slots.sum()) != features.shape[0]:
            raise ValueError(
                f"{int(slots.sum())} image tokens in the prompt but {features.shape[0]} image "
                "features; the processor and the model disagree."
            )
        return embeds.masked_scatter(slots.unsqueeze(-1), features.to(embeds.dtype))


class BunnyDevSet(DevSet):
    """A Bunny (SigLIP at S² scales, ``mlp2x_gelu``, Llama) through ``BunnyModel``."""

    def __init__(self, setup: DevSetup) -> None:
        vlm_dir, device, dtype = setup.vlm_dir, setup.device, setup.dtype
        self.family = setup.family.name
        import torch
        from transformers import PreTrainedTokenizerFast

        from jradi_desktop.architectures.bunny_s2 import chat_prompt_ids, load_bunny
        from jradi_desktop.inference import build_report_messages

        self.bunny = load_bunny(vlm_dir, dtype, device)
        for part in (self.bunny.language, self.bunny.vision, self.bunny.projector):
            part.eval().requires_grad_(False)
        self.merge_target = self.decoder_model = self.bunny.language
        self.tokenizer = PreTrainedTokenizerFast.from_pretrained(vlm_dir, local_files_only=True)
        generation = self.bunny.language.generation_config
        self.eos_token_ids = end_of_generation_ids(
            self.tokenizer.get_vocab(), generation.eos_token_id
        )
        self.bos_token_id = self.tokenizer.bos_token_id
        if self.bos_token_id is None:
            self.bos_token_id = generation.bos_token_id
        pad = self.tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else generation.pad_token_id
        template = _template(setup.family)
        ids = chat_prompt_ids(self.tokenizer, build_report_messages(), template, self.bos_token_id)
        # One prompt for every row (JRadiEvo's): no padding; the rows before the image are
        # shared, computed once per batch.
        length = len(ids) + ids.count(IMAGE_TOKEN_INDEX) * (self.bunny.image_tokens - 1)
        prefix = ids.index(IMAGE_TOKEN_INDEX) if IMAGE_TOKEN_INDEX in ids else 0
        self.batches = []
        for chunk in setup.chunks():
            with torch.inference_mode():
                images = [p.model_image(setup.image_size) for p in chunk]
                pixels = torch.cat([self.bunny.pixels(image) for image in images])
                rows = self.bunny.image_rows(pixels.to(dtype))
            self.images_encoded += len(chunk)
            mask = torch.ones(len(chunk), length, dtype=torch.long, device=device)
            share = prefix if len(chunk) > 1 else 0
            self.batches.append(DevBatch(len(chunk), mask, share, ids=ids, rows=rows))

    def embeds(self, batch: DevBatch) -> torch.Tensor:
        import torch

        with torch.inference_mode():
            rows = [self.bunny.embed(batch.ids, batch.rows[i : i + 1]) for i in range(batch.size)]
            return torch.cat(rows)

    def generate(self, batch: DevBatch, config: Any, stopping_criteria: Any = None) -> torch.Tensor:
        import torch

        embeds = self.embeds(batch)
        with torch.inference_mode():
            return self.bunny.language.generate(
                inputs_embeds=embeds,
                attention_mask=batch.attention_mask,
                generation_config=config,
                stopping_criteria=stopping_criteria,
            )

    def decode(self, new_tokens: torch.Tensor) -> list[str]:
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [t.strip() for t in texts]


def _template(family: Architecture) -> str | None:
    """The Jinja chat template the family names (None: the tokenizer's own)."""
    return chat_templates().get(family.template or "")


def open_dev_set(
    vlm_dir: str | Path,
    pairs: Sequence[ReportPair],
    *,
    device: torch.device,
    dtype: torch.dtype,
    batch_size: int,
    image_size: tuple[int, int],
) -> DevSet:
    """The VLM loaded and the dev pairs prepared as its family needs them."""
    family = vlm_family(vlm_dir)
    setup = DevSetup(Path(vlm_dir), family, list(pairs), device, dtype, batch_size, image_size)
    return family.hook("evolve_dev_set")(setup)
