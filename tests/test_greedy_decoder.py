"""The evolution's static-cache greedy decoder gives exactly transformers' greedy tokens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.evolve._greedy import GreedyDecoder, unsupported_reason
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


def _ours(decoder, batch, eos, pad, new=NEW, should_stop=None) -> torch.Tensor:
    features = decoder.image_features(batch["pixel_values"], torch.float32)
    prefix = decoder.shared_prefix(batch["input_ids"], batch["attention_mask"])
    embeds = decoder.embed(batch["input_ids"], features)
    return decoder.generate(embeds, batch["attention_mask"], new, eos, pad, should_stop, prefix)


@pytest.mark.slow
def test_same_tokens_as_generate_with_a_shared_prefix_and_with_left_padding(vlm):
    model, processor = vlm
    decoder = GreedyDecoder(model)
    pad = processor.tokenizer.pad_token_id
    eos = list(model.generation_config.eos_token_id)

    same = _batch(processor, [""] * 3)  # the same prompt for every image: one shared prefix
    assert bool(same["attention_mask"].all())
    assert decoder.shared_prefix(same["input_ids"], same["attention_mask"]) > 10
    assert torch.equal(_ours(decoder, same, eos, pad), _reference(model, same, eos, pad))

    mixed = _batch(processor, ["咳嗽と発熱が続く。", "", "胸痛。"])
    assert not bool(mixed["attention_mask"].all())  # left padding, no shared prefix
    assert decoder.shared_prefix(mixed["input_ids"], mixed["attention_mask"]) == 0
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
    from transformers import LlamaForCausalLM

    assert unsupported_reason(vlm[0]) is None
    plain = LlamaForCausalLM.from_pretrained(demo_dir / "base")
    assert "not a LLaVA-style model" in unsupported_reason(plain)
    with pytest.raises(ValueError, match="cannot run this model: LlamaForCausalLM"):
        GreedyDecoder(plain)
