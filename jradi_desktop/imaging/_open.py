"""``open_image``: any supported file -> :class:`XrayImage`, or one :class:`ImageLoadError`."""

from __future__ import annotations

import os
from pathlib import Path

from jradi_desktop.imaging._dicom import read_dicom
from jradi_desktop.imaging._errors import ImageLoadError, LoadFailure, load_error
from jradi_desktop.imaging._image import XrayImage
from jradi_desktop.imaging._raster import read_raster
from jradi_desktop.imaging._sniff import Kind, sniff
from jradi_desktop.imaging._stat import regular_file, stat_error

# 8192 x 8192: twice a large detector (43 x 43 cm at 0.1 mm is ~4300 x 4300), well under
# Pillow's own bomb threshold. A 2-D limit of ~67 M pixels is ~256 MiB as float32.
DEFAULT_MAX_PIXELS = 8192 * 8192


def open_image(
    path: str | os.PathLike[str], frame: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS
) -> XrayImage:
    """Open DICOM (recognised by content, with or without preamble), PNG or JPEG.

    ``frame`` picks the frame of a multi-frame DICOM (0-based; ``XrayImage.frames`` tells how
    many; a frame outside the file is refused with the file's frame count). ``max_pixels``
    bounds rows x columns (x frames for DICOM), checked before any decoding. Only a regular
    file is opened (it is stat'ed first). Every failure is an :class:`ImageLoadError` naming
    the file and the reason.
    """
    target = Path(os.fspath(path))
    try:
        kind = _check_file(target)
        if kind in (Kind.DICOM, Kind.DICOM_NO_META):
            return read_dicom(
                target,
                headerless=kind is Kind.DICOM_NO_META,
                frame=frame,
                max_pixels=max_pixels,
            )
        if kind in (Kind.PNG, Kind.JPEG):
            return read_raster(target, file_format=kind.value, frame=frame, max_pixels=max_pixels)
        raise load_error(target, LoadFailure.NOT_IMAGE)
    except ImageLoadError:
        raise
    except MemoryError as exc:
        raise load_error(
            target,
            LoadFailure.TOO_LARGE,
            detail="more pixels than memory allows",
            detail_ja="メモリーに収まらない画素数",
            limit=max_pixels,
        ) from exc
    except Exception as exc:  # the promise: no raw traceback escapes
        raise load_error(
            target,
            LoadFailure.DECODE_FAILED,
            detail=f"{type(exc).__name__}: {str(exc).rstrip('.')}",
        ) from exc


def _check_file(path: Path) -> Kind:
    if regular_file(path).st_size == 0:  # stat before any open: a FIFO would block
        raise load_error(path, LoadFailure.EMPTY)
    try:
        return sniff(path)
    except OSError as exc:
        raise stat_error(path, exc) from exc
