"""Training examples as token ids with the loss on the response only, and their batch order.

A prompt's labels are -100 (no loss); the response's labels are its ids. With the ``chat``
template the prompt is the user turn rendered by the tokenizer's chat template up to the
assistant header, and the response is the rest of the rendered conversation (the answer and
the end-of-turn token), so training sees exactly what ``eval-qa`` and the app send. With
``raw`` the prompt is the format's text after BOS and the response ends with EOS (the
papers' setup). The batch order is a pure function of (seed, micro-step), so a resumed run
continues with exactly the batches the interrupted one would have used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.lora._errors import LoraError

if TYPE_CHECKING:
    import torch

IGNORE_INDEX = -100


@dataclass(frozen=True)
class Encoded:
    """One example: ``input_ids`` (prompt + response) and ``labels`` (-100 on the prompt)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    prompt_truncated: bool = False
    response_truncated: bool = False

    @property
    def n_response(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def _ids(tokenizer: Any, text: str, special: bool = False) -> list[int]:
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def split_chat(tokenizer: Any, prompt: str, response: str) -> tuple[str, str]:
    """The chat-template text of the user turn (to the assistant header) and of the answer."""
    if not getattr(tokenizer, "chat_template", None):
        raise LoraError(
            "the base model's tokenizer has no chat template; use template: raw in the config, "
            "or give the tokenizer a chat template (tokenizer_config.json or chat_template.jinja)"
        )
    user = [{"role": "user", "content": prompt}]
    head = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(
        [*user, {"role": "assistant", "content": response}], tokenize=False
    )
    if not full.startswith(head):
        raise LoraError(
            "the tokenizer's chat template renders the conversation so that it does not start "
            "with the prompt it renders for generation; the response tokens cannot be told "
            "apart. Use template: raw."
        )
    return head, full[len(head) :]


def encode(
    tokenizer: Any,
    prompt: str,
    response: str,
    template: str = "chat",
    max_input_length: int = 512,
    max_target_length: int = 512,
) -> Encoded:
    """Token ids and labels of one example, truncated: the prompt keeps its start token and
    its last ``max_input_length - 1`` tokens (the end holds ``### 応答：``), the response its
    first ``max_target_length`` tokens."""
    if template == "chat":
        head, tail = split_chat(tokenizer, prompt, response)
        prompt_ids, response_ids = _ids(tokenizer, head), _ids(tokenizer, tail)
    elif template == "raw":
        prompt_ids = _ids(tokenizer, prompt, special=True)
        response_ids = _ids(tokenizer, response)
        if tokenizer.eos_token_id is not None:
            response_ids.append(tokenizer.eos_token_id)
    else:
        raise ValueError(f"template must be 'chat' or 'raw', got {template!r}")
    prompt_cut = len(prompt_ids) > max_input_length
    if prompt_cut:
        prompt_ids = prompt_ids[:1] + prompt_ids[len(prompt_ids) - max_input_length + 1 :]
    response_cut = len(response_ids) > max_target_length
    response_ids = response_ids[:max_target_length]
    return Encoded(
        tuple(prompt_ids + response_ids),
        tuple([IGNORE_INDEX] * len(prompt_ids) + response_ids),
        prompt_cut,
        response_cut,
    )


def collate(batch: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` (-100 on padding)."""
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    for row, example in enumerate(batch):
        n = len(example.input_ids)
        ids[row, :n] = torch.tensor(example.input_ids)
        mask[row, :n] = 1
        labels[row, :n] = torch.tensor(example.labels)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@dataclass(frozen=True)
class BatchPlan:
    """Which examples each process takes at each micro-step.

    One micro-step uses ``batch_size`` examples on each of ``world_size`` processes; an epoch
    is a fresh permutation (seeded by ``seed + epoch``) cut into such micro-steps, the last
    incomplete one dropped. Optimizer step ``s`` uses micro-steps ``s * accum ... + accum-1``.
    """

    n_examples: int
    batch_size: int
    world_size: int
    accumulation: int
    seed: int

    def __post_init__(self) -> None:
        if self.per_epoch == 0:
            need = self.batch_size * self.world_size
            raise LoraError(
                f"the data has {self.n_examples} example(s), but one micro-step takes "
                f"batch_size x processes = {self.batch_size} x {self.world_size} = {need}; "
                "lower batch_size or add data"
            )

    @property
    def per_epoch(self) -> int:
        """Micro-steps per epoch."""
        return self.n_examples // (self.batch_size * self.world_size)

    def steps_for_epochs(self, epochs: float) -> int:
        """Optimizer steps for ``epochs`` passes over the data (at least 1)."""
        return max(1, math.ceil(epochs * self.per_epoch / self.accumulation))

    def epoch_of(self, step: int) -> float:
        """Epochs done after ``step`` optimizer steps."""
        return step * self.accumulation / self.per_epoch

    def indices(self, micro_step: int, rank: int) -> list[int]:
        import torch

        epoch, position = divmod(micro_step, self.per_epoch)
        order = torch.randperm(
            self.n_examples, generator=torch.Generator().manual_seed(self.seed + epoch)
        )
        width = self.batch_size * self.world_size
        start = position * width + rank * self.batch_size
        return order[start : start + self.batch_size].tolist()
