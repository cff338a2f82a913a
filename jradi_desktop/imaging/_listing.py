"""``list_images``: expand dropped files and folders to the files worth trying to open."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from jradi_desktop.imaging._sniff import DICOM_MAGIC, DICOM_PREAMBLE, HEAD_BYTES

IMAGE_SUFFIXES = frozenset({".dcm", ".dicom", ".png", ".jpg", ".jpeg"})
_SKIP_NAMES = frozenset({"dicomdir"})  # a DICOM index, never an image
_DIGITS = re.compile(r"(\d+)")


def list_images(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files to try with ``open_image``, in order, without duplicates.

    A folder is walked recursively (symlinked folders are not followed), skipping hidden
    files and folders; its files are kept when their extension is .dcm/.dicom/.png/.jpg/.jpeg
    (any case), when they have no extension (DICOM exports often have none), or when they
    carry the DICM magic. Within a folder the order is natural (IM2 before IM10). A path that
    is not a folder is kept as given, so ``open_image`` can say what is wrong with it.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for entry in paths:
        path = Path(os.fspath(entry))
        candidates = sorted(_walk(path), key=_natural_key) if path.is_dir() else [path]
        for candidate in candidates:
            key = candidate.absolute()
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found


def _walk(folder: Path) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or name.lower() in _SKIP_NAMES:
                continue
            path = Path(root, name)
            if _worth_trying(path):
                yield path


def _worth_trying(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES or suffix == "":
        return path.is_file()
    try:
        with path.open("rb") as fh:
            return fh.read(HEAD_BYTES)[DICOM_PREAMBLE:] == DICOM_MAGIC
    except OSError:
        return False


def _natural_key(path: Path) -> tuple[tuple[object, ...], ...]:
    return tuple(
        tuple(int(t) if t.isdigit() else t.lower() for t in _DIGITS.split(part))
        for part in path.parts
    )
