"""The project's exception base: every user-facing error carries Japanese and English text.

Each subsystem derives its own family from :class:`JRadiError` (``ImageLoadError`` for
imaging, and so on); the UI catches the base and shows :meth:`JRadiError.message` in the
user's language. ``str()`` gives both, Japanese first, so logs and tracebacks read in either.
"""

from __future__ import annotations

import errno
from typing import Any

# Why a file could not be written, (Japanese, English) by errno: the reasons every writer
# shares. A writer adds its own (a report: "open in another program"; the history: "a file is
# where the folder should be") on top; anything else falls back to the OS's own text.
OS_REASONS: dict[int, tuple[str, str]] = {
    errno.EPERM: ("書き込みの権限がありません", "operation not permitted"),
    errno.EROFS: ("読み取り専用の場所です", "the location is read-only"),
    errno.ENOSPC: ("ディスクの空き容量が不足しています", "no space left on device"),
}


class JRadiError(Exception):
    """Base of the project's errors, with a Japanese and an English message.

    Subclasses may add keyword-only attributes (each with a default); they survive pickling,
    so an error raised in a worker process reaches the GUI intact.
    """

    def __init__(self, message_ja: str, message_en: str) -> None:
        super().__init__(message_ja, message_en)
        self.message_ja = message_ja
        self.message_en = message_en

    def __str__(self) -> str:
        return f"{self.message_ja}\n{self.message_en}"

    def message(self, language: str = "ja") -> str:
        """The message in ``language`` ("ja" or "en"; anything else gives English)."""
        return self.message_ja if language.lower().startswith("ja") else self.message_en

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from the two messages, then restore the subclass's extra attributes.
        return (type(self), (self.message_ja, self.message_en), dict(self.__dict__))


def build_error(error: type[Exception], ja: str, en: str) -> Exception:
    """``error`` built from both messages (a ``JRadiError``) or from the English one."""
    return error(ja, en) if issubclass(error, JRadiError) else error(en)
