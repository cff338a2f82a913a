"""One check for every value read from a model folder's files (a vision manifest, config.json,
a shard index, a safetensors header): its type, its range and its size, before it is used.

Each function returns the value converted, or raises ``error`` (an ``ArchitectureError`` by
default, or the caller's error class) with one message in both languages naming the file, the
field, the value found and what was expected. Nothing here converts a value it has not
checked, so a string where a number belongs is a clear refusal, not a ``ValueError`` deep in
the image path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jradi_desktop.architectures._base import ArchitectureError

__all__ = ["FieldError", "inside", "integer", "integers", "number", "one_of"]


class FieldError(ArchitectureError):
    """A field of a model file with the wrong type or out of range; names the file and field."""


def _fail(error: type[Exception], where: Path | str, field: str, value: Any, ja: str,
          en: str) -> Exception:  # fmt: skip
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return error(
        f"{where}: {field} が {shown} です（{ja}が必要です） / field {field!r} is {shown}; "
        f"expected {en}"
    )


def integer(value: Any, where: Path | str, field: str, lo: int, hi: int,
            error: type[Exception] = FieldError) -> int:  # fmt: skip
    """``value`` as an int in [lo, hi] (a bool or a float is not an int)."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _fail(error, where, field, value, f"{lo}〜{hi} の整数", f"an integer {lo}..{hi}")
    return value


def integers(value: Any, where: Path | str, field: str, lo: int, hi: int, *,
             length: int | None = None, most: int = 16,
             error: type[Exception] = FieldError) -> tuple[int, ...]:  # fmt: skip
    """``value`` as a non-empty list of ints in [lo, hi] (exactly ``length`` of them if given,
    at most ``most``)."""
    count = f"{length} 個の" if length else f"1〜{most} 個の"
    count_en = f"{length}" if length else f"1..{most}"
    ok = isinstance(value, Sequence) and not isinstance(value, str | bytes)
    ok = ok and (len(value) == length if length else 1 <= len(value) <= most)
    if ok:
        ok = all(not isinstance(v, bool) and isinstance(v, int) and lo <= v <= hi for v in value)
    if not ok:
        raise _fail(error, where, field, value, f"{lo}〜{hi} の整数 {count}リスト",
                    f"a list of {count_en} integers {lo}..{hi}")  # fmt: skip
    return tuple(value)


def number(value: Any, where: Path | str, field: str, *, positive: bool = False,
           error: type[Exception] = FieldError) -> float:  # fmt: skip
    """``value`` as a finite float (an int is fine; > 0 if ``positive``)."""
    ok = not isinstance(value, bool) and isinstance(value, int | float)
    ok = ok and math.isfinite(value) and (value > 0 or not positive)
    if not ok:
        ja = "正の有限の数" if positive else "有限の数"
        en = "a finite number > 0" if positive else "a finite number"
        raise _fail(error, where, field, value, ja, en)
    return float(value)


def one_of(value: Any, where: Path | str, field: str, choices: Sequence[str],
           error: type[Exception] = FieldError) -> str:  # fmt: skip
    """``value``, which must be one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(choices)
        raise _fail(error, where, field, value, f"{listed} のいずれか", f"one of {listed}")
    return value


def inside(folder: Path, name: Any, where: Path | str, field: str,
           error: type[Exception] = FieldError) -> Path:  # fmt: skip
    """``folder / name`` when it is a relative path that stays inside ``folder`` (symlinks
    resolved); refuses absolute paths, ``..`` and links that lead outside."""
    if not isinstance(name, str) or not name or Path(name).is_absolute():
        raise _fail(error, where, field, name, "フォルダー内の相対パス",
                    "a relative path inside the model folder")  # fmt: skip
    root = folder.resolve()
    path = (folder / name).resolve()
    if path != root and root not in path.parents:
        raise error(
            f"{where}: {field} {name!r} はモデルのフォルダーの外（{path}）を指しています / "
            f"field {field!r} names {name!r}, which lies outside the model folder ({path})"
        )
    return folder / name
