"""The evolution's static-cache greedy decoder gives exactly transformers' greedy tokens, on a
LLaVA (image features spliced by its processor's image tokens) and on a Bunny's Llama
(``inputs_embeds`` with the S² rows spliced at Bunny's placeholder)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.evolve._greedy import GreedyDecoder, shared_prefix, unsupported_reason
from engine.evolve._vlm import llava_embed, llava_image_features
from jradi_desktop.inference import build_report_messages

NEW = 12


@pytest.fixture(scope="module")
def vlm(demo_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(demo_dir / "vlm").eval()
    processor = AutoProcessor.from_pretrained(demo_dir / "vlm")
    processor.tokenizer.padding_side = "left"
    return model, processor


def _images(n: int) -> list:
    from PIL import Image

    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)) for _ in range(n)]


def _batch(processor, indications: list[str]) -> dict[str, torch.Tensor]:
    texts = [
        processor.apply_chat_template(build_report_messages(i), add_generation_prompt=True)
        for i in indications
    ]
    return dict(
        processor(images=_images(len(texts)), text=texts, padding=True, return_tensors="pt")
    )


def _reference(model, batch, eos, pad, new=NEW) -> torch.Tensor:
    with torch.inference_mode():
        out = model.generate(
            **batch,
            max_new_tokens=new,
            do_sample=False,
            num_beams=1,
            eos_token_id=eos,
            pad_token_id=pad,
        )
    return out[:, batch["input_ids"].shape[1] :]


def _prefix(model, batch) -> int:
    return shared_prefix(batch["input_ids"], batch["attention_mask"], model.config.image_token_id)


def _ours(decoder, batch, eos, pad, new=NEW, should_stop=None) -> torch.Tensor:
    model = decoder.model
    features = llava_image_features(model, batch["pixel_values"])
    embeds = llava_embed(model, batch["input_ids"], features, model.config.image_token_id)
    prefix = _prefix(model, batch)
    return decoder.generate(embeds, batch["attention_mask"], new, eos, pad, should_stop, prefix)


@pytest.mark.slow
def test_same_tokens_as_generate_with_a_shared_prefix_and_with_left_padding(vlm):
    model, processor = vlm
    decoder = GreedyDecoder(model)
    pad = processor.tokenizer.pad_token_id
    eos = list(model.generation_config.eos_token_id)

    same = _batch(processor, [""] * 3)  # the same prompt for every image: one shared prefix
    assert bool(same["attention_mask"].all())
    assert _prefix(model, same) > 10
    assert torch.equal(_ours(decoder, same, eos, pad), _reference(model, same, eos, pad))

    mixed = _batch(processor, ["咳嗽と発熱が続く。", "", "胸痛。"])
    assert not bool(mixed["attention_mask"].all())  # left padding, no shared prefix
    assert _prefix(model, mixed) == 0
    assert torch.equal(_ours(decoder, mixed, eos, pad), _reference(model, mixed, eos, pad))


@pytest.mark.slow
def test_rows_that_end_are_padded_and_decoding_stops_when_all_end(vlm):
    model, processor = vlm
    decoder = GreedyDecoder(model)
    pad = processor.tokenizer.pad_token_id
    batch = _batch(processor, ["", "胸痛。"])
    free = _reference(model, batch, [10**6], pad)  # an end token that never comes
    # Declare a token row 0 writes mid-way an end token: it ends there, row 1 goes on.
    eos = [int(free[0, 4])]
    ours, ref = _ours(decoder, batch, eos, pad), _reference(model, batch, eos, pad)
    assert torch.equal(ours, ref)
    assert (ours[0] == pad).any()
    # Both rows' tokens as end tokens: everything stops once both have ended.
    eos = [int(free[0, 2]), int(free[1, 3])]
    ours, ref = _ours(decoder, batch, eos, pad), _reference(model, batch, eos, pad)
    assert torch.equal(ours, ref) and ours.shape[1] < NEW


@pytest.mark.slow
def test_stop_request_ends_decoding_after_the_current_token(vlm):
    model, processor = vlm
    decoder = GreedyDecoder(model)
    batch = _batch(processor, ["", ""])
    out = _ours(decoder, batch, [10**6], 0, should_stop=lambda: True)
    assert out.shape == (2, 1)


@pytest.mark.slow
def test_models_it_cannot_run_are_named(demo_dir, vlm):
    from transformers import LlamaConfig, LlamaForCausalLM

    assert unsupported_reason(vlm[0]) is None
    assert unsupported_reason(LlamaForCausalLM.from_pretrained(demo_dir / "base")) is None
    sizes = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
             "num_attention_heads": 2, "vocab_size": 32}  # fmt: skip
    gelu = LlamaForCausalLM(LlamaConfig(**sizes, hidden_act="gelu"))
    assert unsupported_reason(gelu) == "its MLP activation is 'gelu', not 'silu'"
    with pytest.raises(ValueError, match="cannot run this model: Linear is neither a LLaVA"):
        GreedyDecoder(torch.nn.Linear(2, 2))


# -- a Bunny: the Llama with the image rows spliced in as inputs_embeds -------------------------


@pytest.fixture(scope="module")
def bunny(bunny_demo_dir):
    from transformers import PreTrainedTokenizerFast

    from jradi_desktop.architectures.bunny_s2 import load_bunny

    folder = bunny_demo_dir / "vlm"
    return load_bunny(folder), PreTrainedTokenizerFast.from_pretrained(folder)


def _bunny_embeds(model, tokenizer, indications: list[str]) -> tuple[torch.Tensor, ...]:
    """Left-padded prompt rows (§4 ids, S² rows spliced in), their attention mask, and where
    the first row's image placeholder is."""
    from jradi_desktop.architectures.bunny_s2 import IMAGE_TOKEN_INDEX, prompt_ids
    from jradi_desktop.inference import BUNNY_CHAT_TEMPLATE

    rows = []
    for indication, image in zip(indications, _images(len(indications)), strict=True):
        text = tokenizer.apply_chat_template(
            build_report_messages(indication), chat_template=BUNNY_CHAT_TEMPLATE,
            add_generation_prompt=True, tokenize=False,
        )  # fmt: skip
        ids = prompt_ids(text, lambda c: tokenizer(c).input_ids, tokenizer.bos_token_id)
        with torch.inference_mode():
            rows.append(model.embed(ids, model.image_rows(model.pixels(image)))[0])
    length = max(r.shape[0] for r in rows)
    embeds = torch.zeros(len(rows), length, rows[0].shape[1])
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for i, r in enumerate(rows):
        embeds[i, length - r.shape[0] :], mask[i, length - r.shape[0] :] = r, 1
    return embeds, mask, ids.index(IMAGE_TOKEN_INDEX)


@pytest.mark.slow
def test_a_bunny_language_tower_gives_the_tokens_of_its_generate(bunny):
    model, tokenizer = bunny
    decoder = GreedyDecoder(model.language)
    eos, pad = [tokenizer.eos_token_id], tokenizer.pad_token_id

    def reference(embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model.language.generate(
                inputs_embeds=embeds, attention_mask=mask, max_new_tokens=NEW, do_sample=False,
                num_beams=1, eos_token_id=eos, pad_token_id=pad,
            )  # fmt: skip

    same, mask, image = _bunny_embeds(model, tokenizer, [""] * 3)
    assert bool(mask.all()) and image > 10
    # Everything before the image placeholder (the system prompt) is shared by every row.
    ours = decoder.generate(same, mask, NEW, eos, pad, shared_prefix=image)
    assert torch.equal(ours, reference(same, mask))
    ours = decoder.generate(same, mask, NEW, eos, pad)
    assert torch.equal(ours, reference(same, mask))

    mixed, mask, _ = _bunny_embeds(model, tokenizer, ["咳嗽と発熱が続く。", "", "胸痛。"])
    assert not bool(mask.all())  # left padding
    assert torch.equal(decoder.generate(mixed, mask, NEW, eos, pad), reference(mixed, mask))
