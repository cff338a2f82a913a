"""Exact k-th smallest magnitude over a whole model, streamed in chunks (radix select).

The trim threshold of JRadiEvo is one order statistic over a model's entire flattened task
vector (8 billion elements for Llama-3-8B). Sorting or ``torch.kthvalue`` on the whole vector
needs it in one piece; sampling is not exact. Non-negative IEEE floats order like their bit
patterns read as integers, so the k-th smallest is found from histograms of those bits:

- float16 / bfloat16: one pass, one 32768-bin histogram of the 15 magnitude bits, exact;
- float32: a first pass over the high 16 bits finds the bucket holding the k-th value, a
  second pass over the low 16 bits of that bucket's elements finds the value itself.

Each pass reads every element once, chunk by chunk, on the compute device, with memory of a
chunk plus the histograms (a few hundred KB per model).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# One chunk of the stream: per model, the magnitudes (a tensor in the model's dtype, already 0
# where DARE dropped), an int (that many zeros: the model lacks the tensor) or None (skip).
Chunk = Sequence["torch.Tensor | int | None"]

_BINS = 1 << 15  # magnitude bits of a 16-bit float, and the high half of a float32's
_FINE_BINS = 1 << 16


def _bits(values: torch.Tensor) -> torch.Tensor:
    import torch

    view = torch.int32 if values.dtype == torch.float32 else torch.int16
    return values.contiguous().view(view).to(torch.int32)  # sign bit 0: magnitudes


def _value(bits: int, dtype: torch.dtype) -> float:
    import torch

    view = torch.int32 if dtype == torch.float32 else torch.int16
    return float(torch.tensor([bits], dtype=view).view(dtype)[0])


def _locate(hist: torch.Tensor, rank: int) -> tuple[int, int]:
    """The bin holding the ``rank``-th (1-based) element, and the rank inside that bin."""
    import torch

    cum = hist.cumsum(0)
    b = int(torch.searchsorted(cum, torch.tensor([rank], device=cum.device))[0])
    below = int(cum[b - 1]) if b > 0 else 0
    return b, rank - below


class _Counter:
    """A histogram fed in pieces; pieces are batched so each ``bincount`` call is large.

    (On a CPU each ``bincount`` is a parallel region: thousands of small calls, one per
    tensor, cost more in thread wake-ups than in counting.)
    """

    def __init__(self, bins: int, device: str | torch.device, batch: int) -> None:
        import torch

        self.hist = torch.zeros(bins, dtype=torch.int64, device=device)
        self.bins = bins
        self.batch = batch
        self.pending: list[torch.Tensor] = []
        self.size = 0

    def add(self, keys: torch.Tensor) -> None:
        self.pending.append(keys)
        self.size += keys.numel()
        if self.size >= self.batch:
            self.flush()

    def add_zeros(self, count: int) -> None:
        self.hist[0] += count

    def flush(self) -> torch.Tensor:
        import torch

        if self.pending:
            keys = self.pending[0] if len(self.pending) == 1 else torch.cat(self.pending)
            self.hist += torch.bincount(keys, minlength=self.bins)
            self.pending, self.size = [], 0
        return self.hist


def kth_smallest_magnitudes(
    stream: Callable[[], Iterator[Chunk]],
    ranks: Sequence[int | None],
    dtype: torch.dtype,
    device: str | torch.device = "cpu",
    batch: int = 1 << 22,
) -> list[float | None]:
    """Exact ``ranks[i]``-th smallest (1-based) value of model i's streamed magnitudes.

    ``stream()`` is called once per pass and must yield the same chunks every time. A rank of
    None or 0 gives None without work. ``batch`` elements are counted per ``bincount`` call.
    """
    import torch

    fp32 = dtype == torch.float32
    active = [i for i, r in enumerate(ranks) if r]
    coarse = {i: _Counter(_BINS, device, batch) for i in active}
    for chunk in stream():
        for i in active:
            entry = chunk[i]
            if isinstance(entry, int):
                coarse[i].add_zeros(entry)
            elif entry is not None:
                key = _bits(entry)
                coarse[i].add(key >> 16 if fp32 else key)
    located = {i: _locate(coarse[i].flush(), int(ranks[i] or 0)) for i in active}
    if not fp32:
        return [_value(located[i][0], dtype) if i in located else None for i in range(len(ranks))]

    fine = {i: _Counter(_FINE_BINS, device, batch) for i in active}
    for chunk in stream():
        for i in active:
            entry = chunk[i]
            bucket = located[i][0]
            if isinstance(entry, int):
                if bucket == 0:
                    fine[i].add_zeros(entry)
            elif entry is not None:
                key = _bits(entry)
                fine[i].add(key[(key >> 16) == bucket] & 0xFFFF)
    out: list[float | None] = []
    for i in range(len(ranks)):
        if i not in located:
            out.append(None)
            continue
        bucket, rank = located[i]
        low, _ = _locate(fine[i].flush(), rank)
        out.append(_value((bucket << 16) | low, dtype))
    return out
