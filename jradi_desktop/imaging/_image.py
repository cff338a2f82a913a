"""``XrayImage``: one decoded frame with the metadata the app, the model and a DICOM SR need."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from jradi_desktop.imaging._window import VoiLut, Window, robust_range

# Photometric interpretations after decoding: grey, or colour converted to RGB.
GREY = ("MONOCHROME1", "MONOCHROME2")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of a uint8 RGB array, float32 (rows, columns)."""
    return np.asarray(rgb, dtype=np.float32) @ _LUMA


@dataclass(eq=False)
class XrayImage:
    """A decoded image frame.

    ``pixels`` is float32 ``(rows, columns)`` after the Modality LUT (Rescale Slope/Intercept
    or Modality LUT Sequence) -- for colour images the luma of ``rgb``, which then holds the
    colour as uint8 ``(rows, columns, 3)``. ``windows`` are the header's Window
    Center/Width pairs (with their explanations and the header's VOI LUT Function);
    ``voi_luts`` the VOI LUT Sequence. Text metadata is decoded with the file's
    Specific Character Set; ``study_date`` is the DICOM DA string (YYYYMMDD).
    """

    pixels: np.ndarray = field(repr=False)
    photometric: str = "MONOCHROME2"
    rgb: np.ndarray | None = field(default=None, repr=False)
    windows: tuple[Window, ...] = ()
    voi_luts: tuple[VoiLut, ...] = ()
    voi_lut_function: str = "LINEAR"
    presentation_lut_shape: str = ""
    frames: int = 1
    frame: int = 0
    file_format: str = "DICOM"
    modality: str = ""
    view_position: str = ""
    body_part: str = ""
    study_date: str = ""
    patient_name: str = ""
    patient_id: str = ""
    specific_character_set: str = ""
    transfer_syntax_uid: str = ""
    transfer_syntax_name: str = ""
    pixel_spacing: tuple[float, float] | None = None
    bits_stored: int = 8
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    sop_instance_uid: str = ""
    sop_class_uid: str = ""
    source: Path | None = None
    # True for 8-bit display-ready images (PNG/JPEG, colour): the default window is identity.
    display_ready: bool = False

    @property
    def rows(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def columns(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def is_colour(self) -> bool:
        return self.rgb is not None

    @property
    def inverted_by_header(self) -> bool:
        """True when black and white swap after the VOI step (MONOCHROME1 or INVERSE P-LUT)."""
        return self.photometric == "MONOCHROME1" or self.presentation_lut_shape == "INVERSE"

    @property
    def patient_name_ideographic(self) -> str:
        """The kanji form of a multi-group Person Name when present, else the first group."""
        groups = self.patient_name.split("=")
        if len(groups) > 1 and groups[1]:
            return groups[1]
        return groups[0]

    @cached_property
    def value_range(self) -> tuple[float, float]:
        """Robust (0.5 / 99.5 percentile) range of ``pixels``, for auto window and presets."""
        if self.display_ready:
            return 0.0, 255.0
        return robust_range(self.pixels)

    @property
    def auto_window(self) -> Window:
        """A window over the data: the robust range, or the full 0..255 for 8-bit images."""
        low, high = self.value_range
        return Window.from_range(low, high, "AUTO")

    @property
    def default_window(self) -> Window:
        """The header's first window, else the automatic one (a VOI LUT takes precedence in
        :func:`render` when no window is given; this is the window a user then starts from)."""
        if self.windows and not self.is_colour:
            return self.windows[0]
        return self.auto_window
