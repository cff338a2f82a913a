"""Replace a file whole or not at all: a temporary file in the same folder, fsync, then
``os.replace`` (and an fsync of the folder, so the rename itself is durable). Readers never see
a half file; a crash or a full disk leaves the previous file as it was.

The one writer of this kind in the app and the engine: the small files the app keeps (the
model registry, the PACS list, chat exports), instances retrieved from a PACS, and what the
engine and the tuning wizard write into a workspace (recipes, results, trial texts, summaries,
safetensors shards). Report exports verify what they wrote first (``reports._atomic``).
The temporary file is ``.NAME-XXXXXXXXXXXX.part``: hidden, and never matched by a glob for
the real files' suffix (``*.jsonl``, ``*.safetensors``) should a kill leave one behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["replace_atomically", "replacing"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def _create(path: Path, mode: int) -> Path:
    """A new, empty temporary file beside ``path`` (the umask applies to ``mode``)."""
    while True:
        tmp = path.with_name(f".{path.name}-{secrets.token_hex(6)}.part")
        try:
            os.close(os.open(tmp, _FLAGS, mode))
        except FileExistsError:
            continue
        return tmp


def _fsync_folder(folder: Path) -> None:
    if os.name != "nt":  # make the rename itself durable
        with contextlib.suppress(OSError):
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


@contextlib.contextmanager
def replacing(path: Path, *, private: bool = True) -> Iterator[Path]:
    """A temporary file beside ``path`` for a writer that wants a file name (safetensors, a
    stream of lines); on a clean exit it is flushed to disk and renamed over ``path``, on an
    error removed. ``private``: readable by the owner only (0600); else the mode any new file
    gets (0666 less the umask)."""
    tmp = _create(path, 0o600 if private else 0o666)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def replace_atomically(path: Path, data: bytes | str, *, private: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (a ``str`` as UTF-8, ``\\n`` kept as it is);
    ``private`` as for :func:`replacing`. Returns ``path``."""
    with replacing(path, private=private) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path
