"""``ReportExportError``: why a report could not be written, in both languages."""

from __future__ import annotations

import errno
from pathlib import Path

from jradi_desktop.errors import JRadiError

# errno -> (Japanese, English) reason; anything else falls back to the OS's own text.
_REASONS: dict[int, tuple[str, str]] = {
    errno.EACCES: (
        "書き込みの権限がないか、ファイルが他のアプリで開かれています",
        "permission denied, or the file is open in another program",
    ),
    errno.EPERM: ("書き込みの権限がありません", "operation not permitted"),
    errno.ENOENT: ("保存先のフォルダーが存在しません", "the folder does not exist"),
    errno.ENOTDIR: ("保存先のフォルダーが存在しません", "a part of the path is not a folder"),
    errno.EISDIR: ("同じ名前のフォルダーがあります", "a folder of that name exists"),
    errno.ENOSPC: ("ディスクの空き容量が足りません", "no space left on the disk"),
    errno.EROFS: ("読み取り専用の場所です", "the location is read-only"),
    errno.ENAMETOOLONG: ("ファイル名が長すぎます", "the file name is too long"),
}


class ReportExportError(JRadiError):
    """A report could not be exported; the messages name the file and the reason."""

    def __init__(self, message_ja: str, message_en: str, *, path: Path | None = None) -> None:
        super().__init__(message_ja, message_en)
        self.path = path


def export_error(path: Path, reason_ja: str, reason_en: str) -> ReportExportError:
    """The error for ``path`` with the reason in both languages and what to do about it."""
    return ReportExportError(
        f"レポートを「{path}」に書き出せませんでした（{reason_ja}）。"
        "別の保存先を選ぶか、権限と空き容量を確認してください。",
        f'Could not write the report to "{path}" ({reason_en}); '
        "choose another location, or check permissions and free space.",
        path=path,
    )


def os_error(path: Path, exc: OSError) -> ReportExportError:
    """:func:`export_error` for an ``OSError`` raised while writing ``path``."""
    detail = exc.strerror or str(exc) or type(exc).__name__
    reason_ja, reason_en = _REASONS.get(exc.errno or 0, (detail, detail))
    return export_error(path, reason_ja, reason_en)
