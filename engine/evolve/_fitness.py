"""The fitness of one trial: merge in place, generate the dev reports in batches, ROUGE-L.

Everything that does not depend on the trial's numbers is done once: the base and the task
vectors are resident in a ``MergeContext``; the VLM is loaded once (``_vlm``: transformers'
LLaVA, or a Bunny as ``BunnyModel``, by the registry's family) and its language tower is
overwritten in place by each merge; the dev images (``to_model_rgb`` at 512 x 512, then the
family's own preprocessing) and the tokenised JRadiEvo prompt are kept as ready batches on the
device, with their projected image rows (vision tower + projector: the merge never changes
them; for a Bunny computed before the first trial, ``images_encoded`` counts them); the
references are tokenised once. Per trial: ``merge_into`` → greedy decoding per batch
(``_greedy``'s static-cache decoder on the prompt rows, or transformers' ``generate`` for
towers it does not support) → mean ROUGE-L F1 of each generated text against the reference
findings (MeCab, unidic-lite). Not thread-safe: one evaluation at a time.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.data import ReportPair
from engine.devices import torch_dtype
from engine.evolve._greedy import GreedyDecoder, unsupported_reason
from engine.evolve._vlm import DevBatch, DevSet, open_dev_set
from engine.merge import JRadiEvoParams, MergeContext
from engine.metrics import rouge_l, tokenize_ja
from jradi_desktop.imaging import MODEL_SIZE

if TYPE_CHECKING:
    import torch


class Cancelled(Exception):
    """Raised inside a trial when the run is cancelled (Ctrl-C, the wizard's stop button)."""


@dataclass(frozen=True)
class FitnessResult:
    """One evaluation: mean ROUGE-L, per-sample scores and texts, and where the time went."""

    score: float
    scores: list[float]
    predictions: list[str]
    merge_seconds: float
    generate_seconds: float
    score_seconds: float


def _cancel_criterion(cancel: threading.Event) -> Any:
    import torch
    from transformers import StoppingCriteria

    class _StopOnCancel(StoppingCriteria):
        def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
            return torch.full((input_ids.shape[0],), cancel.is_set(), device=input_ids.device)

    return _StopOnCancel()


class ReportFitness:
    """The live VLM, the merge context and the cached dev batches; ``evaluate`` scores a trial.

    ``context`` holds the task vectors of the models in the search's order (one of them the
    VLM's language tower); ``vlm_dir`` is the VLM whose image path the merged model keeps.
    """

    def __init__(
        self,
        context: MergeContext,
        vlm_dir: str | Path,
        pairs: Sequence[ReportPair],
        *,
        device: str = "cpu",
        model_dtype: str = "auto",
        batch_size: int = 8,
        max_new_tokens: int = 256,
        image_size: tuple[int, int] = MODEL_SIZE,
        decoder: str = "auto",
    ) -> None:
        """``decoder``: ``auto`` (the fast greedy decoder where it supports the model and
        agrees with ``generate`` on the first batch) or ``transformers`` (always ``generate``).
        """
        import torch
        from transformers import GenerationConfig
        from transformers.utils import logging as hf_logging

        if decoder not in ("auto", "transformers"):
            raise ValueError(f"decoder {decoder!r} is not known; use 'auto' or 'transformers'.")
        hf_logging.disable_progress_bar()
        self.context = context
        self.pairs = list(pairs)
        self.device = torch.device(device)
        dtype = torch_dtype(model_dtype, device, gpu="float16")  # float16 on a GPU, as JRadiEvo
        self.dev: DevSet = open_dev_set(
            vlm_dir,
            self.pairs,
            device=self.device,
            dtype=dtype,
            batch_size=batch_size,
            image_size=image_size,
        )
        self.model = self.dev.merge_target
        self.family = self.dev.family
        self.batches = self.dev.batches
        self.generation = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            repetition_penalty=1.0,
            pad_token_id=self.dev.pad_token_id,
            bos_token_id=self.dev.bos_token_id,
            eos_token_id=self.dev.eos_token_ids,
        )
        self.references = [tokenize_ja(pair.findings) for pair in self.pairs]
        self.fast: GreedyDecoder | None = None
        self.prefixes: list[int] = []
        self.decoder_note = self._choose_decoder(decoder)

    @property
    def images_encoded(self) -> int:
        """Dev images run through the vision tower and projector since loading (a Bunny: the
        number of dev images, whatever the number of trials)."""
        return self.dev.images_encoded

    def _choose_decoder(self, choice: str) -> str:
        """Set up the fast decoder if it may be used; say which decoder runs and why."""
        reason = "chosen in the recipe" if choice == "transformers" else None
        reason = reason or unsupported_reason(self.dev.decoder_model)
        if reason is None:
            fast = GreedyDecoder(self.dev.decoder_model)
            shared = [batch.shared_prefix for batch in self.batches]
            reference = self._reference_tokens(min(self.generation.max_new_tokens, 8))
            # The shared system prompt is run for one row; should that round differently
            # (another kernel for a batch of one), decode without sharing it.
            for prefixes in (shared, [0] * len(shared)):
                ours = self._fast_tokens(fast, self.batches[0], reference.shape[1],
                                         shared_prefix=prefixes[0])  # fmt: skip
                if ours.shape == reference.shape and bool((ours == reference).all()):
                    self.fast, self.prefixes = fast, prefixes
                    return "the static-cache greedy decoder (same tokens as generate on batch 1)"
            reason = "its tokens differed from generate's on the first dev batch"
        return f"transformers' generate ({reason})"

    def _reference_tokens(self, n: int) -> torch.Tensor:
        """``generate``'s first ``n`` new tokens for the first dev batch."""
        config = copy.copy(self.generation)
        config.max_new_tokens = n
        return self.dev.generate(self.batches[0], config)

    def _fast_tokens(
        self,
        fast: GreedyDecoder,
        batch: DevBatch,
        max_new_tokens: int,
        cancel: threading.Event | None = None,
        shared_prefix: int = 0,
    ) -> torch.Tensor:
        import torch

        with torch.inference_mode():
            return fast.generate(
                self.dev.embeds(batch),
                batch.attention_mask,
                max_new_tokens,
                self.dev.eos_token_ids,
                self.generation.pad_token_id,
                should_stop=None if cancel is None else cancel.is_set,
                shared_prefix=shared_prefix,
            )

    def iter_batches(self, cancel: threading.Event | None = None) -> Iterator[list[str]]:
        """The live model's reports, one list per cached batch (greedy)."""
        stop = [_cancel_criterion(cancel)] if cancel is not None else None
        for index, batch in enumerate(self.batches):
            if self.fast is not None:
                new = self._fast_tokens(
                    self.fast, batch, self.generation.max_new_tokens, cancel, self.prefixes[index]
                )
            else:
                new = self.dev.generate(batch, self.generation, stop)
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled while generating")
            yield self.dev.decode(new)

    def generate(self, cancel: threading.Event | None = None) -> list[str]:
        """The live model's reports for every dev image, in order."""
        return [text for texts in self.iter_batches(cancel) for text in texts]

    def evaluate(
        self,
        params: JRadiEvoParams,
        *,
        on_batch: Callable[[int, int], None] | None = None,
        on_partial: Callable[[float], None] | None = None,
        partial_fraction: float | None = None,
        cancel: threading.Event | None = None,
    ) -> FitnessResult:
        """Merge ``params`` into the live VLM and score its reports on the dev set.

        ``on_batch(done, total)`` follows the batches. With ``partial_fraction``,
        ``on_partial`` gets the mean ROUGE-L over the first batches that cover that fraction
        of the pairs, once (it may raise, e.g. ``optuna.TrialPruned``).
        """
        started = time.perf_counter()
        self.context.merge_into(self.model, params)
        merge_seconds = time.perf_counter() - started
        partial_at = math.ceil(partial_fraction * len(self.pairs)) if partial_fraction else 0
        scores: list[float] = []
        texts: list[str] = []
        generate_seconds = score_seconds = 0.0
        clock = time.perf_counter()
        for done, batch in enumerate(self.iter_batches(cancel), start=1):
            now = time.perf_counter()
            generate_seconds += now - clock
            refs = self.references[len(texts) : len(texts) + len(batch)]
            scores.extend(
                rouge_l(ref, tokenize_ja(text)) for ref, text in zip(refs, batch, strict=True)
            )
            texts.extend(batch)
            score_seconds += time.perf_counter() - now
            if on_batch is not None:
                on_batch(done, len(self.batches))
            reached = len(scores) - len(batch) < partial_at <= len(scores)
            if on_partial is not None and reached:
                on_partial(sum(scores) / len(scores))
            clock = time.perf_counter()
        return FitnessResult(
            score=sum(scores) / len(scores),
            scores=scores,
            predictions=texts,
            merge_seconds=merge_seconds,
            generate_seconds=generate_seconds,
            score_seconds=score_seconds,
        )
