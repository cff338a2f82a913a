"""Named window presets: header, auto, lung, mediastinum, bone.

CT values are Hounsfield units, so CT gets the usual fixed windows (lung C -600 / W 1500,
mediastinum C 40 / W 400, bone C 400 / W 1800).

CR / DX (and PNG / JPEG) values are detector units with no fixed meaning: a fixed "lung
window" in those units would be meaningless from one detector to the next. Their presets
are therefore *relative* to the image's robust range (0.5 / 99.5 percentiles, the auto
window), given as fractions of that range in display order, 0 = darkest shown:

- lung        0.00 - 0.70   stretches the dark-to-mid greys where aerated lung lies and
                            lets mediastinum and bone saturate to white;
- mediastinum 0.35 - 1.00   stretches the bright end: heart, mediastinum, retrocardiac and
                            subdiaphragmatic regions, the spine;
- bone        0.25 - 0.90   a narrower, higher-contrast window over the mid-to-bright greys
                            where ribs, clavicles and spine are.

These are starting points for the reader's own window/level drag, not a standard. For
MONOCHROME1 images (white = low values) the fractions are mirrored so a preset shows the
same anatomy either way.
"""

from __future__ import annotations

from jradi_desktop.imaging._image import XrayImage
from jradi_desktop.imaging._window import Window

PRESET_NAMES = ("header", "auto", "lung", "mediastinum", "bone")

CT_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (40.0, 400.0),
    "bone": (400.0, 1800.0),
}
RELATIVE_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (0.00, 0.70),
    "mediastinum": (0.35, 1.00),
    "bone": (0.25, 0.90),
}


def window_presets(image: XrayImage) -> dict[str, Window]:
    """The presets that apply to ``image``, in menu order.

    "header" is present only when the header has a window (an image with only a VOI LUT
    Sequence is shown with it by ``render(image)``; there is no Window to name it).
    """
    presets: dict[str, Window] = {}
    if image.windows and not image.is_colour:
        presets["header"] = image.windows[0]
    presets["auto"] = image.auto_window
    if image.modality.upper() == "CT" and not image.is_colour:
        for name, (center, width) in CT_PRESETS.items():
            presets[name] = Window(center, width, "LINEAR", f"{name} (CT, HU)")
        return presets
    low, high = image.value_range
    span = high - low
    for name, (dark, bright) in RELATIVE_PRESETS.items():
        if image.inverted_by_header:  # high values are shown dark
            dark, bright = 1.0 - bright, 1.0 - dark
        presets[name] = Window.from_range(low + dark * span, low + bright * span, name)
    return presets


def preset_window(image: XrayImage, name: str) -> Window:
    """The preset called ``name`` for ``image``; a wrong name lists the valid ones."""
    presets = window_presets(image)
    key = name.strip().lower()
    if key not in presets:
        raise ValueError(
            f"Unknown window preset {name!r} for this image; valid presets: {', '.join(presets)}"
        )
    return presets[key]
