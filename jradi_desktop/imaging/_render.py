"""VOI transform to 8-bit for display: window (LINEAR, LINEAR_EXACT, SIGMOID) or VOI LUT.

Pipeline (PS3.3 C.11, after the Modality LUT applied at load): VOI LUT Sequence when present
and no window is asked for, else the window; then MONOCHROME1 / INVERSE Presentation LUT
inversion; then the user's invert. Output values are ``floor(y + 0.5)`` of the standard's
``y`` in [0, 255]; inversions are exact (``255 - v``) on the 8-bit result.

Speed: a render is a handful of whole-array float32 passes (subtract, multiply, add, clip,
cast) on a fresh buffer -- 0.3 ms (LINEAR) to 2 ms (RGB) for 1024 x 1024 on a 2-core CPU (see
``benchmarks/bench_imaging.py``), so nothing is cached and concurrent renders of one image
from two threads are safe.
"""

from __future__ import annotations

import numpy as np

from jradi_desktop.imaging._image import XrayImage
from jradi_desktop.imaging._window import VoiLut, Window

_SIGMOID_CLIP = 80.0  # exp(80) is finite in float32; beyond it the output is 0 or 255 anyway


def render(image: XrayImage, window: Window | None = None, invert: bool = False) -> np.ndarray:
    """The image as uint8 for display: ``(rows, columns)`` grey or ``(rows, columns, 3)`` RGB.

    ``window=None`` uses the header's VOI: the VOI LUT Sequence when present, else the first
    header window, else the automatic window. ``invert`` flips black and white on top of the
    header's own MONOCHROME1 inversion.
    """
    if image.rgb is not None:
        return _render_colour(image.rgb, window, invert)
    if window is None and image.voi_luts:
        out = apply_voi_lut(image.pixels, image.voi_luts[0])
    else:
        out = apply_window(image.pixels, window if window is not None else image.default_window)
    if image.inverted_by_header != bool(invert):
        np.subtract(np.uint8(255), out, out=out)
    return out


def apply_window(values: np.ndarray, window: Window) -> np.ndarray:
    """``values`` (Modality LUT output) through ``window`` to uint8, per PS3.3 C.11.2.1.2-3."""
    buf = np.empty(values.shape, dtype=np.float32)
    center, width = window.center, window.width
    if window.function == "SIGMOID":
        # y = 255 / (1 + exp(-4 (x - c) / w))
        np.subtract(values, np.float32(center), out=buf)
        np.multiply(buf, np.float32(-4.0 / width), out=buf)
        np.clip(buf, -_SIGMOID_CLIP, _SIGMOID_CLIP, out=buf)
        np.exp(buf, out=buf)
        buf += np.float32(1.0)
        np.divide(np.float32(255.0), buf, out=buf)
        buf += np.float32(0.5)
    elif window.function == "LINEAR_EXACT":
        # y = ((x - c) / w + 0.5) * 255, clipped
        np.subtract(values, np.float32(center), out=buf)
        np.multiply(buf, np.float32(255.0 / width), out=buf)
        buf += np.float32(128.0)  # 0.5 * 255 + 0.5 for rounding
    else:  # LINEAR: y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255, clipped
        span = max(width, 1.0) - 1.0
        if span == 0.0:  # width 1: a step at the center
            return np.where(values > center - 0.5, np.uint8(255), np.uint8(0))
        np.subtract(values, np.float32(center - 0.5), out=buf)
        np.multiply(buf, np.float32(255.0 / span), out=buf)
        buf += np.float32(128.0)
    np.clip(buf, 0.0, 255.0, out=buf)
    return buf.astype(np.uint8)


def apply_voi_lut(values: np.ndarray, lut: VoiLut) -> np.ndarray:
    """``values`` through one VOI LUT Sequence item to uint8 (output range 0 .. 2**bits-1)."""
    table = lut.data * np.float32(255.0 / lut.max_output) + np.float32(0.5)
    table = np.clip(table, 0.0, 255.0).astype(np.uint8)
    buf = np.subtract(values, np.float32(lut.first_mapped), dtype=np.float32)
    np.clip(buf, 0.0, np.float32(table.size - 1), out=buf)
    np.rint(buf, out=buf)
    return np.take(table, buf.astype(np.intp))


def _render_colour(rgb: np.ndarray, window: Window | None, invert: bool) -> np.ndarray:
    if window is None:
        out = rgb.copy()
    else:
        table = apply_window(np.arange(256, dtype=np.float32), window)
        out = np.take(table, rgb)
    if invert:
        np.subtract(np.uint8(255), out, out=out)
    return out
