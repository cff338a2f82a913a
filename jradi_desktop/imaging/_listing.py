"""``scan_images``: expand dropped files and folders to the regular files worth opening.

Every entry is stat'ed before anything opens it: a named pipe would block the scan until a
writer came. What cannot be an image file (a FIFO, socket or device, a dangling symbolic link,
a link loop, an unreadable folder) is skipped with its :class:`ImageLoadError`, so callers can
say what was left out and why.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from jradi_desktop.imaging._errors import ImageLoadError, LoadFailure
from jradi_desktop.imaging._sniff import DICOM_MAGIC, DICOM_PREAMBLE, read_head
from jradi_desktop.imaging._stat import regular_file, stat_error

IMAGE_SUFFIXES = frozenset({".dcm", ".dicom", ".png", ".jpg", ".jpeg"})
_SKIP_NAMES = frozenset({"dicomdir"})  # a DICOM index, never an image
_DIGITS = re.compile(r"(\d+)")


@dataclass
class ImageScan:
    """What :func:`scan_images` found: regular files to open, and what it skipped and why."""

    files: list[Path] = field(default_factory=list)
    skipped: list[ImageLoadError] = field(default_factory=list)


def scan_images(paths: Iterable[str | os.PathLike[str]]) -> ImageScan:
    """Regular files to try with ``open_image``, in order, without duplicates.

    A folder is walked recursively (symlinked folders are not followed), skipping hidden
    files and folders; its files are kept when their extension is .dcm/.dicom/.png/.jpg/.jpeg
    (any case), when they have no extension (DICOM exports often have none), or when they
    carry the DICM magic; other regular files are left out silently. Within a folder the order
    is natural (IM2 before IM10). A regular file given by name is kept whatever its name.
    Anything that is not a regular file -- given by name or found in a folder -- is never
    opened: it goes to ``skipped`` with the reason.
    """
    scan = ImageScan()
    seen: set[Path] = set()
    for entry in paths:
        path = Path(os.fspath(entry))
        checked = _check(path)
        if isinstance(checked, ImageLoadError) and checked.reason is LoadFailure.DIRECTORY:
            found, skipped = _walk(path)
            candidates: list[Path | ImageLoadError] = [*found, *skipped]
            candidates.sort(key=lambda c: _natural_key(c if isinstance(c, Path) else c.path))
        else:
            candidates = [checked]
        for candidate in candidates:
            key = (candidate if isinstance(candidate, Path) else candidate.path).absolute()
            if key in seen:
                continue
            seen.add(key)
            if isinstance(candidate, Path):
                scan.files.append(candidate)
            else:
                scan.skipped.append(candidate)
    return scan


def _check(path: Path) -> Path | ImageLoadError:
    try:
        regular_file(path)
    except ImageLoadError as exc:
        return exc
    return path


def _walk(folder: Path) -> tuple[list[Path], list[ImageLoadError]]:
    found: list[Path] = []
    skipped: list[ImageLoadError] = []

    def unreadable(exc: OSError) -> None:
        skipped.append(stat_error(Path(exc.filename or folder), exc))

    for root, dirs, files in os.walk(folder, onerror=unreadable):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or name.lower() in _SKIP_NAMES:
                continue
            checked = _check(Path(root, name))
            if isinstance(checked, ImageLoadError):
                skipped.append(checked)
            elif _worth_trying(checked):
                found.append(checked)
    return found, skipped


def _worth_trying(path: Path) -> bool:
    """For a regular file: an image extension, no extension, or the DICM magic."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES or suffix == "":
        return True
    try:
        return read_head(path)[DICOM_PREAMBLE:] == DICOM_MAGIC
    except OSError:
        return False


def _natural_key(path: Path | None) -> tuple[tuple[object, ...], ...]:
    return tuple(
        tuple(int(t) if t.isdigit() else t.lower() for t in _DIGITS.split(part))
        for part in (path or Path()).parts
    )
