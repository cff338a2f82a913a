"""An exclusive, non-blocking lock on an open file, the same on Windows and POSIX.

Windows locks the file's first byte (``msvcrt``), POSIX the whole file (``flock``); either is
released by :func:`unlock`, by closing the file, or when the process ends.
"""

from __future__ import annotations

import sys
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
