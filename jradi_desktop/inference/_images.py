"""Images for the backends: PIL images or encoded bytes in, PNG bytes / data URLs / PIL out."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from jradi_desktop.inference._errors import InvalidRequestError

if TYPE_CHECKING:
    from PIL import Image

_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


def to_png_bytes(image: Image.Image | bytes) -> bytes:
    """PNG (or, if given already encoded, PNG/JPEG) bytes of an image, as RGB.

    PNG is lossless, so the model sees exactly the pixels of the image; compression level 1
    keeps encoding a 512 x 512 image to a few milliseconds.
    """
    if isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
        mime_type(data)  # checks the format
        return data
    if image.mode != "RGB":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def mime_type(data: bytes) -> str:
    """``image/png`` or ``image/jpeg`` from the bytes' signature; otherwise an error."""
    for signature, mime in _SIGNATURES:
        if data.startswith(signature):
            return mime
    raise InvalidRequestError(
        "画像データが PNG でも JPEG でもありません。",
        "Image bytes are neither PNG nor JPEG; pass a PIL image or PNG/JPEG bytes.",
    )


def data_url(image: Image.Image | bytes) -> str:
    """A ``data:`` URL of the image, the form llama-cpp-python's multimodal handlers take."""
    data = to_png_bytes(image)
    return f"data:{mime_type(data)};base64,{base64.b64encode(data).decode('ascii')}"


def to_pil(image: Image.Image | bytes) -> Image.Image:
    """An RGB PIL image from a PIL image or encoded bytes."""
    from PIL import Image

    if isinstance(image, bytes | bytearray | memoryview):
        mime_type(bytes(image))
        image = Image.open(io.BytesIO(bytes(image)))
        image.load()
    return image if image.mode == "RGB" else image.convert("RGB")


def encode_all(images: Sequence[Image.Image | bytes]) -> list[bytes]:
    """PNG bytes of each image (what crosses the process boundary to the worker)."""
    return [to_png_bytes(image) for image in images]
