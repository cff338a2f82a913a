"""An export folder is replaced whole or not at all.

``model.gguf``, its vision part (``vision/`` or ``mmproj.gguf``) and ``export.json`` belong
together: a new ``model.gguf`` beside an old ``vision/`` registers and runs with no complaint
and writes garbage. So an export writes everything into a staging folder beside the target
(same file system) and renames it into place only when complete; a failure (a full disk, an
error, Ctrl+C) removes it and leaves the previous export as it was.

A kill -9 cannot clean up: its staging folder (``.NAME.partial-PID-…``) stays, and an export
killed between its two renames leaves the previous export at ``.NAME.old-PID``. The next
export into the same folder removes the first (its process is gone) and puts the second back
if the target is missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil

from engine.errors import ExportError
from jradi_desktop.contract import MMPROJ_GGUF, MODEL_GGUF, VISION_DIR
from jradi_desktop.errors import OS_REASONS

EXPORT_ENTRIES = {MODEL_GGUF, MMPROJ_GGUF, VISION_DIR, "export.json"}


def _owner_gone(path: Path, marker: str) -> bool:
    """``path`` is named ``….{marker}-PID[-…]`` and that process no longer runs."""
    pid = path.name.split(f".{marker}-", 1)[1].split("-", 1)[0]
    return not pid.isdigit() or not psutil.pid_exists(int(pid))


def recover(out: Path) -> list[Path]:
    """Remove killed exports' staging folders beside ``out``; put a previous export moved
    aside back when ``out`` is missing. Returns what was removed."""
    removed = []
    for old in sorted(out.parent.glob(f".{out.name}.old-*")):
        if not _owner_gone(old, "old"):
            continue
        if not out.exists():
            old.rename(out)
        else:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    for stage in sorted(out.parent.glob(f".{out.name}.partial-*")):
        if _owner_gone(stage, "partial"):
            shutil.rmtree(stage, ignore_errors=True)
            removed.append(stage)
    return removed


def _foreign(out: Path) -> list[str]:
    """Entries of ``out`` that no export writes (an older version's partial files are ours)."""
    if not out.is_dir():
        return []
    return sorted(
        p.name for p in out.iterdir()
        if p.name not in EXPORT_ENTRIES and ".partial" not in p.name
    )  # fmt: skip


def _reason(exc: OSError) -> str:
    if exc.errno in OS_REASONS:
        return " / ".join(OS_REASONS[exc.errno])
    return exc.strerror or str(exc)


@contextlib.contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """Yield an empty staging folder; when the block ends normally it becomes ``out`` (the
    previous ``out`` removed), otherwise it is removed and ``out`` is untouched."""
    out = Path(os.path.abspath(out))
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder; choose a folder to export into.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        recover(out)
    except OSError as exc:
        raise ExportError(f"{out}: cannot be prepared for the export ({_reason(exc)})") from exc
    foreign = _foreign(out)
    if foreign:
        raise ExportError(
            f"{out}: holds files that are not an export's ({', '.join(foreign[:5])}); the "
            "export replaces the whole folder, so choose an empty folder or an earlier export's."
        )
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-{os.getpid()}-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    stage.chmod(0o777 & ~umask)  # mkdtemp's 0700 would make the exported model private
    try:
        yield stage
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
        stage.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise ExportError(
            f"{out}: the export could not be written ({_reason(exc)}); nothing of it was kept "
            "and the folder is as it was before."
        ) from exc
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
