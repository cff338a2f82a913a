"""What the inference tests share: a small test image, the greeting that runs a demo model to
its limit, short and long generation settings, and a backend's reply as pieces and text."""

from __future__ import annotations

import numpy as np
from PIL import Image

from jradi_desktop.inference import GenerationParams

HELLO = [{"role": "user", "content": "こんにちは"}]  # the demo base runs to the limit on this
SHORT = GenerationParams(max_new_tokens=24)
LONG = GenerationParams(max_new_tokens=3000)


def _image() -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8))


def _run(backend, messages, images=(), params=SHORT):
    pieces = list(backend.generate(messages, images, params))
    return pieces, "".join(pieces)
