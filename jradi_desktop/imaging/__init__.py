"""Imaging: file -> XrayImage (float pixels, metadata, default window) -> display / model input.

No Qt here: the viewer turns :func:`render`'s uint8 array into a QImage.
"""

from jradi_desktop.imaging._errors import ImageLoadError, LoadFailure
from jradi_desktop.imaging._image import XrayImage
from jradi_desktop.imaging._info import image_info
from jradi_desktop.imaging._listing import IMAGE_SUFFIXES, ImageScan, scan_images
from jradi_desktop.imaging._model_input import MODEL_SIZE, to_model_rgb
from jradi_desktop.imaging._open import DEFAULT_MAX_PIXELS, open_image
from jradi_desktop.imaging._plausibility import PlausibilityNote, plausibility_notes
from jradi_desktop.imaging._presets import PRESET_NAMES, preset_window, window_presets
from jradi_desktop.imaging._render import apply_voi_lut, apply_window, render
from jradi_desktop.imaging._window import WINDOW_FUNCTIONS, VoiLut, Window

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "MODEL_SIZE",
    "PRESET_NAMES",
    "WINDOW_FUNCTIONS",
    "ImageLoadError",
    "ImageScan",
    "LoadFailure",
    "VoiLut",
    "Window",
    "XrayImage",
    "apply_voi_lut",
    "apply_window",
    "image_info",
    "open_image",
    "preset_window",
    "render",
    "scan_images",
    "to_model_rgb",
    "window_presets",
]
__all__ += ["PlausibilityNote", "plausibility_notes"]
