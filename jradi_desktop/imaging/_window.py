"""Value types of the VOI (display) transform: a window, a VOI LUT, and the data's range."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

WINDOW_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")

# Robust range used for the automatic window and the relative presets (percent).
AUTO_PERCENTILES = (0.5, 99.5)
# The robust range is estimated on at most this many pixels (an even stride over the image).
_PERCENTILE_SAMPLES = 1 << 20


@dataclass(frozen=True)
class Window:
    """A window (center/width) in Modality LUT output units and its VOI LUT Function.

    ``function`` is one of ``WINDOW_FUNCTIONS`` (DICOM PS3.3 C.11.2.1.2-3). LINEAR requires
    ``width >= 1`` by the standard; a narrower LINEAR window is rendered as a step at the
    center. The other functions need ``width > 0``.
    """

    center: float
    width: float
    function: str = "LINEAR"
    explanation: str = ""

    def __post_init__(self) -> None:
        function = self.function.strip().upper()
        if function not in WINDOW_FUNCTIONS:
            raise ValueError(
                f"VOI LUT Function {self.function!r} is not supported; "
                f"valid values are {', '.join(WINDOW_FUNCTIONS)}"
            )
        object.__setattr__(self, "function", function)
        object.__setattr__(self, "center", float(self.center))
        object.__setattr__(self, "width", float(self.width))
        if not math.isfinite(self.center) or not math.isfinite(self.width) or self.width <= 0:
            raise ValueError(
                f"A window needs a finite center and a width > 0, got center {self.center}, "
                f"width {self.width}"
            )

    @property
    def low(self) -> float:
        """The value at or below which the output is black (before any inversion)."""
        if self.function == "LINEAR":
            return self.center - 0.5 - (max(self.width, 1.0) - 1.0) / 2.0
        return self.center - self.width / 2.0

    @property
    def high(self) -> float:
        """The value above which the output is white (before any inversion)."""
        if self.function == "LINEAR":
            return self.center - 0.5 + (max(self.width, 1.0) - 1.0) / 2.0
        return self.center + self.width / 2.0

    @classmethod
    def from_range(cls, low: float, high: float, explanation: str = "") -> Window:
        """The LINEAR_EXACT window mapping ``low`` to black and ``high`` to white exactly."""
        low, high = float(low), float(high)
        if not high > low:
            high = low + 1.0
        return cls((low + high) / 2.0, high - low, "LINEAR_EXACT", explanation)


@dataclass(frozen=True, eq=False)
class VoiLut:
    """One item of the VOI LUT Sequence (PS3.3 C.11.2.1.1).

    Input values below ``first_mapped`` take the first entry, values past the end the last;
    the output range is 0 .. 2**bits - 1.
    """

    first_mapped: int
    bits: int
    data: np.ndarray = field(repr=False)
    explanation: str = ""

    @property
    def max_output(self) -> int:
        return (1 << self.bits) - 1


def robust_range(
    pixels: np.ndarray, percentiles: tuple[float, float] = AUTO_PERCENTILES
) -> tuple[float, float]:
    """Low/high percentiles of ``pixels`` (finite values, sampled evenly on large images)."""
    flat = pixels.reshape(-1)
    if flat.size > _PERCENTILE_SAMPLES:
        flat = flat[:: flat.size // _PERCENTILE_SAMPLES + 1]
    if flat.dtype.kind == "f" and not np.isfinite(flat).all():
        flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(flat, percentiles)
    if not high > low:  # flat or nearly flat data: fall back to the full range
        low, high = float(flat.min()), float(flat.max())
    return float(low), float(high)
