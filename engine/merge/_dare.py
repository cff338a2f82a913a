"""DARE's drop mask: a counter-based hash of (seed, element index), the same on every device.

JRadiEvo's reference code reseeds its RNG with 42 before every tensor, so a tensor's drop
pattern depends only on the seed and the element's position, and is the same in every model.
The exact RNG call of that code is not confirmed, so this module defines the pattern itself
(docs/adr/0003): for the element at flat (row-major) index ``j`` of a tensor,

    key = H(seed mod 2**32 XOR H(j >> 32))
    u_j = H((j + key) mod 2**32)                # a uniform 32-bit integer
    dropped  iff  u_j < floor(p * 2**32)

where ``H`` is the 32-bit integer hash ``lowbias32`` (x ^= x >> 16; x *= 0x7feb352d;
x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16, all mod 2**32). ``p = 0`` drops nothing and
``p = 1`` drops everything. Unlike ``torch.Generator`` streams (Mersenne Twister on the CPU,
Philox on CUDA), the pattern is identical on every device and any slice of a tensor can be
drawn alone, so the merge can run chunk by chunk on a GPU and be reproduced on a CPU.
Arithmetic is int64 with every product kept below 2**63: no overflow anywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DARE_SEED = 42
_MASK32 = 0xFFFFFFFF
_C1 = 0x7FEB352D
_C2 = 0x846CA68B


def hash32(x: int) -> int:
    """``lowbias32`` on one Python integer (the scalar twin of the tensor hash)."""
    x &= _MASK32
    x ^= x >> 16
    x = (x * _C1) & _MASK32
    x ^= x >> 15
    x = (x * _C2) & _MASK32
    x ^= x >> 16
    return x


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """``x * c mod 2**32`` for int64 ``x`` in [0, 2**32), with no intermediate over 2**48."""
    low = x * (c & 0xFFFF)
    high = ((x * (c >> 16)) & 0xFFFF) << 16
    return (low + high) & _MASK32


def _hash32_tensor(x: torch.Tensor) -> torch.Tensor:
    x = x ^ (x >> 16)
    x = _mul32(x, _C1)
    x = x ^ (x >> 15)
    x = _mul32(x, _C2)
    return x ^ (x >> 16)


def dare_uniform(
    start: int, count: int, seed: int = DARE_SEED, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """The 32-bit integers ``u_j`` (int64 tensor) for flat indices ``start .. start+count-1``."""
    import torch

    parts = []
    j = start
    stop = start + count
    while j < stop:
        high = j >> 32
        end = min(stop, (high + 1) << 32)  # never straddle a 2**32 block: one key per block
        key = hash32((seed & _MASK32) ^ hash32(high))
        low = torch.arange(j & _MASK32, (j & _MASK32) + (end - j), dtype=torch.int64, device=device)
        parts.append(_hash32_tensor((low + key) & _MASK32))
        j = end
    if not parts:
        return torch.empty(0, dtype=torch.int64, device=device)
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def drop_limit(p: float) -> int:
    """``floor(p * 2**32)``: an element is dropped when its ``u_j`` is below this."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"DARE drop rate p={p} is out of range; it must be in [0, 1].")
    return int(p * 2**32)


def dare_keep(
    start: int,
    count: int,
    p: float,
    seed: int = DARE_SEED,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Boolean keep-mask (True = survives DARE) for flat indices ``start .. start+count-1``."""
    import torch

    limit = drop_limit(p)
    if limit == 0:
        return torch.ones(count, dtype=torch.bool, device=device)
    if limit >= 2**32:
        return torch.zeros(count, dtype=torch.bool, device=device)
    return dare_uniform(start, count, seed, device) >= limit


def dare_table(
    count: int,
    seed: int = DARE_SEED,
    device: str | torch.device = "cpu",
    chunk: int = 1 << 22,
) -> torch.Tensor:
    """``u_j - 2**31`` as int32 for ``j < count``: every tensor's pattern, drawn once.

    Because the pattern restarts at every tensor, element j of any tensor uses the same
    ``u_j``; a table as long as the largest tensor (525M entries, 2.1 GB, for Llama-3-8B's
    embeddings) turns each later mask into one comparison (``table_keep``).
    """
    import torch

    table = torch.empty(count, dtype=torch.int32, device=device)
    for start in range(0, count, chunk):
        n = min(count, start + chunk) - start
        table[start : start + n] = (dare_uniform(start, n, seed, device) - 2**31).to(torch.int32)
    return table


def table_keep(table: torch.Tensor, start: int, count: int, p: float) -> torch.Tensor:
    """``dare_keep(start, count, p)`` read from a ``dare_table`` (same bits, one comparison)."""
    import torch

    limit = drop_limit(p)
    if limit == 0:
        return torch.ones(count, dtype=torch.bool, device=table.device)
    if limit >= 2**32:
        return torch.zeros(count, dtype=torch.bool, device=table.device)
    return table[start : start + count] >= limit - 2**31


def dare_scale(p: float) -> float:
    """The survivors' rescale 1/(1-p); 0 for p = 1, where nothing survives."""
    return 0.0 if p >= 1.0 else 1.0 / (1.0 - p)
