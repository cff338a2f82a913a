"""A few seconds of training that make the demo models write readable Japanese reports.

Random weights exercise every code path but write noise; a clinician trying the demo should
see what the product does. ``demo-models --trained`` therefore fits the base LM to the built-in
corpus, derives the specialists from that base as usual, and fine-tunes the VLM (starting from
the trained base, so its task vector stays a small delta) to answer the JRadiEvo prompt with a
report; a Bunny-layout VLM is trained the same way through ``BunnyModel`` (image rows, then
the language tower with labels on the report). Deterministic for a seed on a given machine
(fixed thread count, no dropout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine._demo_corpus import DEMO_CORPUS
from jradi_desktop.inference import BUNNY_CHAT_TEMPLATE, REPORT_PROMPT

if TYPE_CHECKING:
    import torch

BASE_STEPS = 150
VLM_STEPS = 150
LEARNING_RATE = 3e-3


def corpus_documents() -> list[str]:
    """Corpus lines, with each 所見 line joined to the 印象 line after it."""
    lines = [line for line in DEMO_CORPUS.splitlines() if line.strip()]
    documents: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if (
            line.startswith("所見")
            and index + 1 < len(lines)
            and lines[index + 1].startswith("印象")
        ):
            documents.append(f"{line}\n{lines[index + 1]}")
            index += 2
        else:
            documents.append(line)
            index += 1
    return documents


def reports() -> list[str]:
    return [d for d in corpus_documents() if d.startswith("所見")]


def _fit(model: torch.nn.Module, batches: list[dict], steps: int) -> float:
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.0)
    model.train()
    loss = torch.tensor(0.0)
    for step in range(steps):
        batch = batches[step % len(batches)]
        loss = model(**batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()
    return float(loss.detach())


def train_language_model(model: torch.nn.Module, tokenizer: object, seed: int) -> float:
    """Fit a Llama LM to the corpus; returns the last loss."""
    import torch

    torch.manual_seed(seed)
    encoded = tokenizer(corpus_documents(), padding=True, return_tensors="pt")
    labels = encoded.input_ids.clone()
    labels[encoded.attention_mask == 0] = -100
    batch = {"input_ids": encoded.input_ids, "attention_mask": encoded.attention_mask,
             "labels": labels}  # fmt: skip
    return _fit(model, [batch], BASE_STEPS)


def train_vlm(model: torch.nn.Module, processor: object, seed: int) -> float:
    """Teach the LLaVA to answer the report prompt with a corpus report, on plain images."""
    import numpy as np
    import torch
    from PIL import Image

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    size = processor.image_processor.crop_size["height"]
    batches = []
    for report in reports():
        image = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
        conversation = [
            {
                "role": "user",
                "content": [{"type": "image"}, {"type": "text", "text": REPORT_PROMPT}],
            }
        ]
        prompt = processor.apply_chat_template(conversation, add_generation_prompt=True)
        eos = processor.tokenizer.eos_token
        full = processor(images=image, text=f"{prompt} {report}{eos}", return_tensors="pt")
        n_prompt = processor(images=image, text=prompt, return_tensors="pt").input_ids.shape[1]
        labels = full.input_ids.clone()
        labels[:, :n_prompt] = -100  # loss on the report only
        batches.append({**full, "labels": labels})
    return _fit(model, batches, VLM_STEPS)


def _noise_image(rng: object, size: int) -> object:
    import numpy as np
    from PIL import Image

    return Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))


def train_bunny(
    config: dict[str, Any], tensors: dict[tuple[str, str], torch.Tensor], tokenizer: Any, seed: int
) -> dict[tuple[str, str], torch.Tensor]:
    """Teach a Bunny-layout VLM (``tensors`` by canonical ``(part, name)``) to answer the
    report prompt with a corpus report, on plain images, as ``train_vlm`` does for the LLaVA.
    Returns the trained tensors: the language tower, the vision trunk and the projector (the
    unused last vision layer and head stay as they were)."""
    import numpy as np
    import torch

    from jradi_desktop.architectures import get
    from jradi_desktop.architectures.bunny_s2 import BunnyModel, prompt_ids

    arch = get("bunny_s2")
    bunny = BunnyModel(config, {arch.stored_key(p, n): t for (p, n), t in tensors.items()})

    class _Bunny(torch.nn.Module):
        """The three parts as one module: image rows spliced into the prompt, then the loss."""

        def __init__(self) -> None:
            super().__init__()
            self.language, self.vision, self.projector = (
                bunny.language, bunny.vision, bunny.projector
            )  # fmt: skip

        def forward(self, pixels: torch.Tensor, ids: list[int], labels: torch.Tensor) -> Any:
            embeds = bunny.embed(ids, bunny.image_rows(pixels))
            return self.language(inputs_embeds=embeds, labels=labels)

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    conversation = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": REPORT_PROMPT}]}
    ]
    text = tokenizer.apply_chat_template(
        conversation, chat_template=BUNNY_CHAT_TEMPLATE, add_generation_prompt=True, tokenize=False
    )
    prompt = prompt_ids(text, lambda chunk: tokenizer(chunk).input_ids, tokenizer.bos_token_id)
    # the prompt's rows once the placeholder holds the image's rows
    n_prompt = len(prompt) - 1 + bunny.image_tokens
    batches = []
    for report in reports():
        answer = tokenizer(f" {report}{tokenizer.eos_token}", add_special_tokens=False).input_ids
        labels = torch.tensor([[-100] * n_prompt + answer])  # loss on the report only
        image = _noise_image(rng, bunny.settings.scales[-1])
        batches.append({"pixels": bunny.pixels(image), "ids": prompt + answer, "labels": labels})
    _fit(_Bunny(), batches, VLM_STEPS)
    out: dict[tuple[str, str], torch.Tensor] = {}
    for part, module in (("language", bunny.language), ("vision", bunny.vision),
                         ("projector", bunny.projector)):  # fmt: skip
        out |= {(part, k): v.detach().clone() for k, v in module.state_dict().items()
                if (part, k) in tensors}  # fmt: skip
    return out
