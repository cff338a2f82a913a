"""Text files the engine reads (data sets, predictions): UTF-8 (a BOM allowed), each failure
naming the file and what it should have been."""

from __future__ import annotations

from pathlib import Path


def read_utf8(path: Path, error: type[Exception], what: str) -> str:
    """``path``'s text; ``error`` when it is missing, unreadable or not UTF-8. ``what``: the
    file's role in the messages ("data file", "predictions file")."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: {what} not found.") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc}).") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8."
        ) from exc
