"""Segments: the flat runs ``MergeContext`` merges, one large tensor or several small ones.

Consecutive tensors of one dtype that fit in a chunk together are packed into one flat buffer,
so the norms and biases of a model cost a handful of vectorised operations instead of a dozen
each; a segment knows where each of its tensors sits and writes merged values back into them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Segment:
    """Tensors merged as one flat run: a single (chunked) tensor, or several small ones packed."""

    names: tuple[str, ...]
    sizes: tuple[int, ...]

    @property
    def numel(self) -> int:
        return sum(self.sizes)

    @property
    def packed(self) -> bool:
        return len(self.names) > 1

    def members(self) -> Iterator[tuple[str, int, int]]:
        """``(name, offset, size)`` of each tensor in the flat run."""
        offset = 0
        for name, size in zip(self.names, self.sizes, strict=True):
            yield name, offset, size
            offset += size

    def write(self, targets: Mapping[str, torch.Tensor], start: int, values: torch.Tensor) -> None:
        """Copy a merged chunk (flat, from ``start``) into the targets (cast to their dtypes)."""
        if not self.packed:
            targets[self.names[0]].view(-1)[start : start + values.numel()].copy_(values)
            return
        for name, offset, size in self.members():
            targets[name].view(-1).copy_(values[offset : offset + size])

    def write_at(
        self, targets: Mapping[str, torch.Tensor], index: torch.Tensor, values: torch.Tensor
    ) -> None:
        """Set the elements at flat ``index`` to ``values``."""
        for name, offset, size in self.members():
            dst = targets[name].view(-1)
            inside = (index >= offset) & (index < offset + size)
            if self.packed and not bool(inside.any()):
                continue
            at = (index[inside] - offset).to(dst.device)
            dst[at] = values[inside].to(device=dst.device, dtype=dst.dtype)


def segments(sizes: Mapping[str, tuple[int, Any]], chunk_size: int) -> list[Segment]:
    """Consecutive tensors (name -> (numel, dtype)) grouped into runs of at most a chunk."""
    groups: list[list[str]] = []
    total, dtype = 0, None
    for name, (numel, kind) in sizes.items():
        if not groups or total + numel > chunk_size or kind != dtype:
            groups.append([])
            total = 0
        groups[-1].append(name)
        total, dtype = total + numel, kind
    return [Segment(tuple(g), tuple(sizes[n][0] for n in g)) for g in groups]
