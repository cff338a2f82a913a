"""``to_model_rgb``: the one image preprocessing shared by the app, training and evaluation."""

from __future__ import annotations

from PIL import Image

from jradi_desktop.imaging._image import XrayImage
from jradi_desktop.imaging._render import render

# JRadiEvo converts to RGB and resizes to 512 x 512 before the model's own processor.
MODEL_SIZE = (512, 512)


def to_model_rgb(image: XrayImage, size: tuple[int, int] | None = MODEL_SIZE) -> Image.Image:
    """8-bit RGB rendered with the default window (header VOI, else auto), resized to
    ``size`` (width, height) with bicubic resampling, aspect ratio not kept -- as JRadiEvo
    does. ``size=None`` keeps the image's own size."""
    pil = Image.fromarray(render(image)).convert("RGB")
    if size is not None and pil.size != tuple(size):
        pil = pil.resize((int(size[0]), int(size[1])), Image.Resampling.BICUBIC)
    return pil
