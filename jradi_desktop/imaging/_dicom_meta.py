"""Read the display transforms and the metadata out of a pydicom dataset.

Attributes that Enhanced multi-frame objects move into functional groups (rescale, window,
pixel spacing) are looked up for the loaded frame first, then in the shared groups, then at
the top level.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut

from jradi_desktop.imaging._window import WINDOW_FUNCTIONS, VoiLut, Window

_FRAME_GROUPS = {
    "rescale": "PixelValueTransformationSequence",
    "window": "FrameVOILUTSequence",
    "measures": "PixelMeasuresSequence",
}


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, MultiValue | list | tuple):
        return list(value)
    return [value]


def text(ds: Dataset, keyword: str) -> str:
    """``ds.keyword`` as a stripped str (decoded with the file's character set), or ""."""
    try:
        value = ds.get(keyword)
    except Exception:  # a malformed value must not stop the image from loading
        return ""
    if value is None:
        return ""
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(str(v) for v in value).strip()
    return str(value).strip()


def _frame_item(ds: Dataset, frame: int, group: str) -> Iterable[Dataset]:
    """Datasets to search for a frame's attribute, most specific first."""
    sequence = _FRAME_GROUPS[group]
    with contextlib.suppress(Exception):
        per_frame = ds.get("PerFrameFunctionalGroupsSequence")
        if per_frame and frame < len(per_frame) and per_frame[frame].get(sequence):
            yield per_frame[frame].get(sequence)[0]
    with contextlib.suppress(Exception):
        shared = ds.get("SharedFunctionalGroupsSequence")
        if shared and shared[0].get(sequence):
            yield shared[0].get(sequence)[0]
    yield ds


def _find(ds: Dataset, frame: int, group: str, keyword: str) -> tuple[Dataset, Any] | None:
    for item in _frame_item(ds, frame, group):
        value = item.get(keyword)
        if value is not None and value != "":
            return item, value
    return None


def modality_lut(arr: np.ndarray, ds: Dataset, frame: int) -> np.ndarray:
    """Stored values -> float32 Modality LUT output (Rescale Slope/Intercept or LUT)."""
    if arr.dtype.kind == "f":  # Float Pixel Data: no Modality LUT; NaN/inf would not render
        return np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if ds.get("ModalityLUTSequence"):
        return np.asarray(apply_modality_lut(arr, ds), dtype=np.float32)
    slope_hit = _find(ds, frame, "rescale", "RescaleSlope")
    intercept_hit = _find(ds, frame, "rescale", "RescaleIntercept")
    slope = float(slope_hit[1]) if slope_hit else 1.0
    intercept = float(intercept_hit[1]) if intercept_hit else 0.0
    out = arr.astype(np.float32)
    if slope != 1.0:
        out *= np.float32(slope)
    if intercept != 0.0:
        out += np.float32(intercept)
    return out


def voi_lut_function(ds: Dataset, frame: int) -> str:
    hit = _find(ds, frame, "window", "VOILUTFunction")
    function = str(hit[1]).strip().upper() if hit else "LINEAR"
    return function if function in WINDOW_FUNCTIONS else "LINEAR"


def windows(ds: Dataset, frame: int) -> tuple[Window, ...]:
    """The header's Window Center/Width pairs (invalid pairs are skipped)."""
    hit = _find(ds, frame, "window", "WindowCenter")
    if hit is None:
        return ()
    item = hit[0]
    function = voi_lut_function(ds, frame)
    centers = _as_list(item.get("WindowCenter"))
    widths = _as_list(item.get("WindowWidth"))
    explanations = _as_list(item.get("WindowCenterWidthExplanation"))
    found = []
    for i, (center, width) in enumerate(zip(centers, widths, strict=False)):
        explanation = str(explanations[i]) if i < len(explanations) else ""
        try:
            found.append(Window(float(center), float(width), function, explanation))
        except (TypeError, ValueError):
            continue
    return tuple(found)


def voi_luts(ds: Dataset) -> tuple[VoiLut, ...]:
    """The VOI LUT Sequence items, with LUT Data as float32 arrays."""
    found = []
    for item in ds.get("VOILUTSequence") or ():
        try:
            found.append(_voi_lut(ds, item))
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            continue
    return tuple(found)


def _voi_lut(ds: Dataset, item: Dataset) -> VoiLut:
    entries, first_mapped, bits = (int(v) for v in item.LUTDescriptor[:3])
    entries = entries or 1 << 16
    element = item["LUTData"]
    if isinstance(element.value, bytes | bytearray):
        little = ds.original_encoding[1]
        if little is None:
            little = True
        raw = np.frombuffer(element.value, dtype="<u2" if little else ">u2")
    else:
        raw = np.asarray(_as_list(element.value), dtype=np.float64)
    data = raw[:entries].astype(np.float32)
    if data.size == 0:
        raise ValueError("empty LUT Data")
    if not 1 <= bits <= 16:
        bits = max(int(data.max()).bit_length(), 1)
    return VoiLut(first_mapped, bits, data, text(item, "LUTExplanation"))


def pixel_spacing(ds: Dataset, frame: int) -> tuple[float, float] | None:
    """Pixel Spacing (row, column) in mm; Imager Pixel Spacing for projection radiographs."""
    hit = _find(ds, frame, "measures", "PixelSpacing")
    values = _as_list(hit[1]) if hit else _as_list(ds.get("ImagerPixelSpacing"))
    try:
        if len(values) >= 2:
            return float(values[0]), float(values[1])
    except (TypeError, ValueError):
        pass
    return None


def character_set(ds: Dataset) -> str:
    return text(ds, "SpecificCharacterSet")


def number_of_frames(ds: Dataset) -> int:
    try:
        return max(int(ds.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError):
        return 1
