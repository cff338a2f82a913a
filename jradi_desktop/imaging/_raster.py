"""PNG / JPEG file -> :class:`XrayImage` through Pillow.

Grey stays grey (8-bit ``L``, 16-bit ``I;16``, 32-bit ``I``, float ``F``); RGB stays colour;
a palette image becomes grey when its palette is grey, colour otherwise; alpha is composited
onto black (a radiograph's background). 8-bit images are display images already: their
default window is the identity, so the model sees the pixels the file holds.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from jradi_desktop.imaging._codestream import declared_size
from jradi_desktop.imaging._errors import LoadFailure, bad_frame, check_pixel_limit, load_error
from jradi_desktop.imaging._image import XrayImage, luma

_GREY_MODES = ("1", "L", "LA", "La")
_INT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_PNG_IHDR_END = 24  # signature, chunk length, "IHDR", width, height
_JPEG_HEAD = 1 << 18  # bytes searched for the frame header (past EXIF and other APPn)


def read_raster(path: Path, *, file_format: str, frame: int, max_pixels: int) -> XrayImage:
    """Decode the PNG or JPEG at ``path`` (``file_format`` as sniffed: "PNG" or "JPEG")."""
    if frame != 0:
        raise bad_frame(path, frame, 1)
    declared = _declared_size(path, file_format)
    if declared is not None:  # before Pillow, whose own bomb check would speak first
        check_pixel_limit(path, *declared, max_pixels)
    try:
        with Image.open(path, formats=[file_format]) as im:
            check_pixel_limit(path, im.height, im.width, max_pixels)
            image = _from_pil(ImageOps.exif_transpose(im) if file_format == "JPEG" else im)
    except Image.DecompressionBombError as exc:  # Pillow's own limit, when it is lower
        pil_limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        if declared is not None:
            check_pixel_limit(path, *declared, pil_limit)
        raise load_error(
            path,
            LoadFailure.TOO_LARGE,
            detail="more pixels than Pillow decodes",
            detail_ja="Pillow が展開できる数より多い画素",
            limit=pil_limit,
        ) from exc
    except UnidentifiedImageError as exc:
        raise load_error(path, LoadFailure.NOT_IMAGE, detail=str(exc)) from exc
    except (OSError, SyntaxError, EOFError) as exc:  # Pillow's "truncated" / "broken data"
        raise load_error(path, LoadFailure.TRUNCATED, detail=str(exc).rstrip(".")) from exc
    image.file_format = file_format
    image.source = path
    return image


def _declared_size(path: Path, file_format: str) -> tuple[int, int] | None:
    """(rows, columns) from the PNG IHDR or the JPEG frame header, None when not found."""
    with path.open("rb") as fh:
        head = fh.read(_PNG_IHDR_END if file_format == "PNG" else _JPEG_HEAD)
    if file_format == "PNG":
        if len(head) < _PNG_IHDR_END or head[12:16] != b"IHDR":
            return None
        columns, rows = struct.unpack(">II", head[16:24])
        return rows, columns
    return declared_size(head)


def _from_pil(im: Image.Image) -> XrayImage:
    mode = im.mode
    if mode in _GREY_MODES:
        grey = _composite_grey(im)
        return XrayImage(pixels=grey.astype(np.float32), bits_stored=8, display_ready=True)
    if mode in _INT_MODES or mode == "F":
        arr = np.asarray(im)
        bits = 32 if mode == "F" else max(16, int(arr.max(initial=0)).bit_length())
        return XrayImage(pixels=arr.astype(np.float32), bits_stored=bits)
    rgba = np.asarray(im.convert("RGBA"))
    rgb = _composite_rgb(rgba)
    if mode in ("P", "PA") and _is_grey(rgb):
        return XrayImage(pixels=rgb[..., 0].astype(np.float32), bits_stored=8, display_ready=True)
    return XrayImage(
        pixels=luma(rgb), photometric="RGB", rgb=rgb, bits_stored=8, display_ready=True
    )


def _composite_grey(im: Image.Image) -> np.ndarray:
    if im.mode == "1":
        return np.asarray(im.convert("L"))
    if im.mode in ("LA", "La"):
        la = np.asarray(im.convert("LA"), dtype=np.uint16)
        return ((la[..., 0] * la[..., 1] + 127) // 255).astype(np.uint8)
    return np.asarray(im)


def _composite_rgb(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[..., 3]
    if alpha.min(initial=255) == 255:
        return np.ascontiguousarray(rgba[..., :3])
    rgb = rgba[..., :3].astype(np.uint16) * alpha[..., None]
    return ((rgb + 127) // 255).astype(np.uint8)


def _is_grey(rgb: np.ndarray) -> bool:
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())
