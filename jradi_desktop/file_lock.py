"""An exclusive, non-blocking lock on an open file, the same on Windows and POSIX.

Windows locks the file's first byte (``msvcrt``), POSIX the whole file (``flock``); either is
released by :func:`unlock`, by closing the file, or when the process ends.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


def try_lock(file: IO[Any]) -> None:
    """Lock ``file`` for this process; ``OSError`` when another process holds it."""
    if sys.platform == "win32":
        import msvcrt

        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def unlock(file: IO[Any]) -> None:
    """Release the lock :func:`try_lock` took on ``file``."""
    if sys.platform == "win32":
        import msvcrt

        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(file.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def locked(path: Path, timeout: float, too_long: Callable[[Path], Exception]) -> Iterator[None]:
    """Hold the exclusive lock on ``PATH.lock`` (created beside ``path``, with its folder):
    one change of ``path`` at a time, in every process. Waits up to ``timeout`` seconds,
    then raises ``too_long(lock_path)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+b") as f:
        deadline = time.monotonic() + timeout
        while True:
            try:
                try_lock(f)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise too_long(lock_path) from None
                time.sleep(0.02)
        try:
            yield
        finally:
            unlock(f)
