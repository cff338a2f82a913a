"""Replace a file whole or not at all: a temporary file in the same folder, fsync, then
``os.replace`` (and an fsync of the folder, so the rename itself is durable). Readers never see
a half file; a crash or a full disk leaves the previous file as it was.

Used for the small files the app keeps (the model registry, the PACS list) and for instances
retrieved from a PACS. Report exports verify what they wrote first (``reports._atomic``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["replace_atomically"]


def replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (the temporary file is ``.STEM-…SUFFIX``)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if os.name != "nt":  # make the rename itself durable
        with contextlib.suppress(OSError):
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
