"""Deflated Explicit VR Little Endian: what a dataset inflates to, found in bounded steps.

pydicom inflates a deflated dataset whole, in memory, before it reads one attribute, so a few
hundred kilobytes of zeros can claim gigabytes. :func:`inflate_bounded` inflates the stream
a bounded step at a time, keeping only the first bytes it is asked for, and stops past a limit.

Its loop ends: every step consumes input, produces output, or stops. The stream's end stops it
(bytes after the end, such as the pad byte that keeps a file's length even, are never fed
again: zlib would keep them in ``unconsumed_tail`` for ever), so do corrupt data and a step
that makes no progress (the file has ended and zlib holds no more output). Output is bounded
by the limit and input by the file.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import BinaryIO

_READ = 1 << 20  # compressed bytes read at a time
_STEP = 1 << 22  # most inflated bytes one step may produce


@dataclass(frozen=True)
class Inflated:
    """``size``: bytes inflated (past the limit: where it stopped); ``complete``: the stream
    ended properly (not the file first, nor corrupt data); ``head``: the first bytes."""

    size: int
    complete: bool
    head: bytes


def inflate_bounded(fh: BinaryIO, limit: int, *, head: int = 0) -> Inflated:
    """Inflate the raw deflate stream at ``fh``'s position until it ends or passes ``limit``
    bytes, keeping the first ``head`` bytes of the output and nothing else."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    size, pending, kept = 0, b"", []
    while not inflater.eof and size <= limit:
        if not pending:
            pending = fh.read(_READ)  # b"" at the file's end: drains what zlib still holds
        try:
            out = inflater.decompress(pending, _STEP)
        except zlib.error:
            break  # corrupt: pydicom's own inflate reports it
        tail = inflater.unconsumed_tail
        if not out and len(tail) == len(pending):
            break  # no progress: the input has run out
        if size < head:
            kept.append(out[: head - size])
        size += len(out)
        pending = tail
    return Inflated(size, inflater.eof, b"".join(kept))
