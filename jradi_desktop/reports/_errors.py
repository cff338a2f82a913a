"""``ReportExportError``: why a report could not be written, in both languages."""

from __future__ import annotations

import errno
from pathlib import Path

from jradi_desktop.errors import OS_REASONS, JRadiError

# errno -> (Japanese, English) reason; anything else falls back to the OS's own text.
_REASONS: dict[int, tuple[str, str]] = {
    **OS_REASONS,
    errno.EACCES: (
        "書き込みの権限がないか、ファイルが他のアプリで開かれています",
        "permission denied, or the file is open in another program",
    ),
    errno.ENOENT: ("保存先のフォルダーが存在しません", "the folder does not exist"),
    errno.ENOTDIR: ("保存先のフォルダーが存在しません", "a part of the path is not a folder"),
    errno.EISDIR: ("同じ名前のフォルダーがあります", "a folder of that name exists"),
    errno.EDQUOT: ("ディスクの使用量の上限に達しました", "disk quota exceeded"),
    errno.EIO: ("ディスクの読み書きでエラーが起きました", "input/output error"),
    errno.ENAMETOOLONG: ("ファイル名が長すぎます", "the file name is too long"),
}
_MAX_DETAIL = 200  # characters of a library's own message shown to the user


class ReportExportError(JRadiError):
    """A report could not be exported; the messages name the file and the reason."""

    def __init__(self, message_ja: str, message_en: str, *, path: Path | None = None) -> None:
        super().__init__(message_ja, message_en)
        self.path = path


class IncompleteFileError(ReportExportError):
    """Raised by an export's verifier: the file written does not read back as it should.

    The messages are only the reason; :func:`~jradi_desktop.reports.atomic_write` turns the
    error into one that names the target file (the verifier only sees the temporary file).
    """


def incomplete_file(reason_ja: str, reason_en: str) -> IncompleteFileError:
    """A verifier's error: the file reads back wrong, most likely because the disk filled up
    (some writers, Qt's PDF writer among them, do not report a failed write)."""
    return IncompleteFileError(
        f"書き出したファイルが不完全です: {reason_ja}。"
        "ディスクの空き容量が不足している可能性があります",
        f"the written file is incomplete: {reason_en}; the disk may be full",
    )


def export_error(
    path: Path, reason_ja: str, reason_en: str, *, kept: bool = False
) -> ReportExportError:
    """The error for ``path`` with the reason in both languages and what to do about it.

    ``kept``: a previous file of that name exists and was left as it was.
    """
    kept_ja = "元のファイルは変更していません。" if kept else ""
    kept_en = " The existing file was not changed." if kept else ""
    return ReportExportError(
        f"レポートを「{path}」に書き出せませんでした（{reason_ja}）。{kept_ja}"
        "別の保存先を選ぶか、権限と空き容量を確認してください。",
        f'Could not write the report to "{path}" ({reason_en}).{kept_en} '
        "Choose another location, or check permissions and free space.",
        path=path,
    )


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, nearest first."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def summary(exc: BaseException) -> str:
    """One line about ``exc``: its first line of text, never a traceback (pydicom puts the
    whole traceback into the message of the errors it re-raises)."""
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else ""
    if not isinstance(exc, OSError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text[:_MAX_DETAIL]


def os_error(path: Path, exc: OSError, *, kept: bool = False) -> ReportExportError:
    """:func:`export_error` for an ``OSError`` raised while writing ``path``.

    A library may re-raise the OS's error without its number (pydicom's ``OSError("With tag
    ... got exception: ...")``); the number is then looked up in the chain of causes.
    """
    for cause in _chain(exc):
        if isinstance(cause, OSError) and cause.errno in _REASONS:
            reason_ja, reason_en = _REASONS[cause.errno]
            return export_error(path, reason_ja, reason_en, kept=kept)
    described = [c for c in _chain(exc) if isinstance(c, OSError) and c.strerror]
    detail = str(described[0].strerror)[:_MAX_DETAIL] if described else summary(exc)
    detail = detail or type(exc).__name__
    return export_error(path, detail, detail, kept=kept)


def unexpected_error(path: Path, exc: Exception, *, kept: bool = False) -> ReportExportError:
    """:func:`export_error` for any other exception raised while writing ``path``."""
    detail = summary(exc)
    return export_error(
        path, f"予期しないエラー: {detail}", f"unexpected error: {detail}", kept=kept
    )
