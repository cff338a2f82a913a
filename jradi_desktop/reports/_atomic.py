"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``.

A crash or a full disk half way leaves the previous file (if any) intact and no partial
report behind under the final name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from jradi_desktop.reports._errors import export_error, os_error


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(temp_path)`` to fill a temporary file, then move it onto ``path``.

    ``write`` gets the path of an empty file in the same folder (so the final rename stays on
    one file system). Any ``OSError`` becomes a :class:`ReportExportError` naming ``path``;
    a :class:`ReportExportError` from ``write`` passes through. Returns ``path`` as a ``Path``.
    """
    target = Path(path)
    if target.is_dir():
        raise export_error(target, "同じ名前のフォルダーがあります", "a folder of that name exists")
    temp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        os.close(fd)
        temp = Path(name)
        write(temp)
        if temp.stat().st_size == 0:
            raise export_error(target, "書き出された内容が空でした", "nothing was written")
        with open(temp, "rb+") as handle:  # flush to disk before the rename makes it visible
            os.fsync(handle.fileno())
        os.replace(temp, target)
        temp = None
    except OSError as exc:
        raise os_error(target, exc) from exc
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink()
    return target


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda temp: temp.write_bytes(data))
