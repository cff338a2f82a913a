"""``regular_file``: stat a path before anything opens it, and insist on a regular file.

Opening a named pipe blocks until a writer comes and a device may never end, so every
path is classified by ``stat`` first: a folder, a FIFO, socket or device, a dangling
symbolic link and a link loop each get their own message, and only a regular file is opened.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from jradi_desktop.imaging._errors import ImageLoadError, LoadFailure, load_error

# st_mode file type -> (Japanese, English) words for a file that is not a regular file.
_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "名前付きパイプ（FIFO）", "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "ソケット", "a socket"),
    (stat.S_ISCHR, "キャラクターデバイス", "a character device"),
    (stat.S_ISBLK, "ブロックデバイス", "a block device"),
)
_OTHER = ("特殊ファイル", "a special file")


def regular_file(path: Path) -> os.stat_result:
    """``path``'s stat (links followed) when it is a regular file; else its ImageLoadError."""
    try:
        info = path.stat()
    except OSError as exc:
        raise stat_error(path, exc) from exc
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise load_error(path, LoadFailure.DIRECTORY)
    if not stat.S_ISREG(mode):
        ja, en = next(((ja, en) for is_kind, ja, en in _SPECIAL_KINDS if is_kind(mode)), _OTHER)
        raise load_error(path, LoadFailure.NOT_REGULAR, detail=en, detail_ja=ja)
    return info


def stat_error(path: Path, exc: OSError) -> ImageLoadError:
    """The ImageLoadError for an ``OSError`` raised by ``stat`` (or ``open``) of ``path``."""
    if exc.errno == errno.ELOOP:
        return load_error(path, LoadFailure.LINK_LOOP)
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        try:
            target = os.readlink(path)
        except OSError:  # not a link, or it went away meanwhile
            return load_error(path, LoadFailure.MISSING)
        return load_error(
            path,
            LoadFailure.MISSING,
            detail=f'It is a symbolic link to "{target}", which does not exist; '
            "delete the link or make it point at the real file.",
            detail_ja=f"「{target}」へのシンボリックリンクですが、リンク先がありません。"
            "リンクを削除するか、実際のファイルを指すように作り直してください。",
        )
    return load_error(path, LoadFailure.UNREADABLE, detail=exc.strerror or str(exc))
