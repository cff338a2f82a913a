"""Atomic, verified file writes: a temporary file in the target's folder, read back, then
``os.replace``.

A crash or a full disk half way leaves the previous file (if any) intact and no partial
report behind under the final name. A full disk does not always raise: Qt's PDF writer, for
one, ignores failed writes and leaves a truncated file. So every export reads its temporary
file back (``verify``) before the rename makes it the report.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from jradi_desktop.reports._errors import (
    IncompleteFileError,
    ReportExportError,
    export_error,
    incomplete_file,
    os_error,
    unexpected_error,
)


def _open_output(path: Path) -> BinaryIO:
    """Open ``path`` to write an export's bytes: the one place they reach the disk (the
    full-disk tests point it at ``/dev/full``)."""
    return open(path, "wb")


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[Path], None],
    *,
    verify: Callable[[Path], None] | None = None,
) -> Path:
    """Call ``write(temp_path)`` to fill a temporary file, check it, then move it onto ``path``.

    ``write`` gets the path of an empty file in the same folder (so the final rename stays on
    one file system). ``verify(temp_path)`` reads the file back and raises
    :class:`IncompleteFileError` with the reason when it is not what was meant to be written;
    the error then names ``path``. Any other failure becomes a :class:`ReportExportError`
    naming ``path`` with a one-line reason (never a traceback); a :class:`ReportExportError`
    from ``write`` passes through. On any failure the previous file at ``path`` is left as it
    was and the temporary file is removed. Returns ``path`` as a ``Path``.
    """
    target = Path(path)
    if target.is_dir():
        raise export_error(target, "同じ名前のフォルダーがあります", "a folder of that name exists")
    kept = target.is_file()
    temp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        os.close(fd)
        temp = Path(name)
        write(temp)
        if temp.stat().st_size == 0:
            raise IncompleteFileError("書き出された内容が空でした", "nothing was written")
        with open(temp, "rb+") as handle:  # flush to disk before the rename makes it visible
            os.fsync(handle.fileno())
        if verify is not None:
            verify(temp)
        os.replace(temp, target)
        temp = None
    except IncompleteFileError as exc:
        raise export_error(target, exc.message_ja, exc.message_en, kept=kept) from exc
    except ReportExportError:
        raise
    except OSError as exc:
        raise os_error(target, exc, kept=kept) from exc
    except Exception as exc:  # a library's own error while writing: one line, no traceback
        raise unexpected_error(target, exc, kept=kept) from exc
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink()
    return target


def same_bytes(data: bytes) -> Callable[[Path], None]:
    """A verifier: the file holds exactly ``data``."""

    def verify(temp: Path) -> None:
        found = temp.read_bytes()
        if found != data:
            raise incomplete_file(
                f"読み直した内容が一致しません（{len(found)} / {len(data)} バイト）",
                f"it reads back different ({len(found)} of {len(data)} bytes)",
            )

    return verify


def write_bytes_atomic(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    verify: Callable[[Path], None] | None = None,
) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`), checking that the file
    reads back as ``data`` and then, if given, with ``verify``."""
    same = same_bytes(data)

    def write(temp: Path) -> None:
        with _open_output(temp) as handle:
            handle.write(data)

    def check(temp: Path) -> None:
        same(temp)
        if verify is not None:
            verify(temp)

    return atomic_write(path, write, verify=check)
