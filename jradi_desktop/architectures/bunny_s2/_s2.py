"""Bunny-v1.1's S² image path around the SigLIP trunk, in numpy (torch-free).

What Bunny computes (bunny-v1.1.md §3): pad the image to a square with (127, 127, 127), PIL
bicubic to the largest scale, x/255, (x - 0.5) / 0.5; per scale a torch-style bicubic resize
(A = -0.75, align_corners=False, clamped borders, no antialias) and a row-major chessboard of
``ceil(scale / base)`` crops; the trunk's patch rows of every crop merged back into one grid
per scale, block-averaged to the smallest grid ('area'), channels concatenated in scale order;
then the projector Linear -> exact GELU -> Linear.

The trunk itself is a callable (ONNX Runtime in the clinician app, torch in the engine), so
this module holds only the glue both share.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

PAD_COLOUR = (127, 127, 127)  # tuple(int(m * 255) for m in image_mean), mean = 0.5
MEAN = STD = 0.5

# crops [N, 3, base, base] float32 -> patch rows [N, grid * grid, width]
Trunk = Callable[[np.ndarray], np.ndarray]


def pad_to_square(image: Image.Image, fill: tuple[int, int, int] = PAD_COLOUR) -> Image.Image:
    """Bunny's ``expand2square``: the image pasted centred on a square of ``fill``."""
    image = image.convert("RGB")
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    square = Image.new("RGB", (side, side), fill)
    square.paste(image, ((side - width) // 2, (side - height) // 2))
    return square


def normalise(
    image: Image.Image,
    size: int,
    fill: tuple[int, int, int] = PAD_COLOUR,
    mean: float = MEAN,
    std: float = STD,
) -> np.ndarray:
    """Padded, PIL-bicubic resized to ``size`` x ``size``, (x/255 - mean) / std:
    [3, size, size] float32 (Bunny: [-1, 1])."""
    square = pad_to_square(image, fill)
    if square.size != (size, size):
        square = square.resize((size, size), Image.Resampling.BICUBIC)
    pixels = np.asarray(square, dtype=np.float32) * np.float32(1 / 255)
    return np.ascontiguousarray(((pixels - mean) / std).transpose(2, 0, 1))


def _cubic_weights(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    """The four taps' weights (at offsets -1, 0, 1, 2) for fractional positions ``t``."""

    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def _bicubic_matrix(size_in: int, size_out: int) -> np.ndarray:
    """[size_out, size_in] matrix of torch's bicubic resize along one axis."""
    scale = size_in / size_out
    source = (np.arange(size_out, dtype=np.float64) + 0.5) * scale - 0.5
    start = np.floor(source)
    weights = _cubic_weights(source - start)
    matrix = np.zeros((size_out, size_in), dtype=np.float64)
    rows = np.arange(size_out)
    for tap in range(4):
        index = np.clip(start.astype(np.int64) - 1 + tap, 0, size_in - 1)
        np.add.at(matrix, (rows, index), weights[:, tap])
    return matrix


def resize_bicubic(pixels: np.ndarray, size: int) -> np.ndarray:
    """[C, H, W] -> [C, size, size] as ``F.interpolate(mode='bicubic')`` computes it."""
    height, width = pixels.shape[-2:]
    if (height, width) == (size, size):
        return pixels
    rows = _bicubic_matrix(height, size).astype(np.float32)
    cols = _bicubic_matrix(width, size).astype(np.float32)
    return np.ascontiguousarray(rows @ pixels @ cols.T)


def split_chessboard(pixels: np.ndarray, n: int) -> np.ndarray:
    """[C, H, W] -> [n * n, C, H / n, W / n], crop (i, j) at index i * n + j."""
    channels, height, width = pixels.shape
    h, w = height // n, width // n
    crops = pixels.reshape(channels, n, h, n, w).transpose(1, 3, 0, 2, 4)
    return np.ascontiguousarray(crops.reshape(n * n, channels, h, w))


def merge_chessboard(grids: np.ndarray, n: int) -> np.ndarray:
    """[n * n, C, h, w] -> [C, n * h, n * w]: the inverse of :func:`split_chessboard`."""
    _, channels, h, w = grids.shape
    merged = grids.reshape(n, n, channels, h, w).transpose(2, 0, 3, 1, 4)
    return merged.reshape(channels, n * h, n * w)


def area_pool(grid: np.ndarray, size: int) -> np.ndarray:
    """[C, k * size, k * size] -> [C, size, size] by k x k block means (torch 'area')."""
    channels, height, _ = grid.shape
    if height == size:
        return grid
    k = height // size
    if k * size != height:
        raise ValueError(f"area pooling {height} -> {size} is not a whole block size")
    return grid.reshape(channels, size, k, size, k).mean(axis=(2, 4), dtype=np.float32)


def s2_features(pixels: np.ndarray, scales: Sequence[int], trunk: Trunk) -> np.ndarray:
    """Image rows before the projector: [grid * grid, width * len(scales)].

    ``pixels`` is :func:`normalise`'s output at ``max(scales)``; the smallest scale is the
    trunk's input size (Bunny: 384, 768, 1152 over a 384 trunk).
    """
    ordered = sorted(scales)
    base = ordered[0]
    pooled = []
    grid_size = None
    for scale in ordered:
        n = math.ceil(scale / base)
        resized = resize_bicubic(pixels, scale)
        rows = trunk(split_chessboard(resized, n))  # [n * n, grid * grid, width]
        crops, tokens, width = rows.shape
        side = math.isqrt(tokens)
        if side * side != tokens or crops != n * n:
            raise ValueError(f"the vision trunk returned {rows.shape} for {n * n} crops")
        grids = rows.reshape(crops, side, side, width).transpose(0, 3, 1, 2)
        merged = merge_chessboard(grids, n)
        grid_size = grid_size or side
        pooled.append(area_pool(merged, grid_size))
    features = np.concatenate(pooled, axis=0)  # [width * scales, grid, grid]
    return np.ascontiguousarray(features.reshape(features.shape[0], -1).T)


def gelu_exact(x: np.ndarray) -> np.ndarray:
    """``nn.GELU()`` (erf form): 0.5 x (1 + erf(x / sqrt 2)); erf to within 1.2e-7 (float64)."""
    z = x.astype(np.float64) / math.sqrt(2.0)
    return (0.5 * x * (1.0 + _erf(z))).astype(x.dtype)


# Numerical Recipes' erfc Chebyshev fit: fractional error below 1.2e-7 everywhere.
_ERFC_COEFFICIENTS = (
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
)  # fmt: skip


def _erf(z: np.ndarray) -> np.ndarray:
    t = 1.0 / (1.0 + 0.5 * np.abs(z))
    poly = np.zeros_like(t)
    for coefficient in reversed(_ERFC_COEFFICIENTS):
        poly = poly * t + coefficient
    erfc = t * np.exp(poly - z * z)
    return np.where(z >= 0, 1.0 - erfc, erfc - 1.0)


def project(
    features: np.ndarray,
    first: tuple[np.ndarray, np.ndarray],
    second: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """``mlp2x_gelu``: Linear (weight [out, in], bias) -> exact GELU -> Linear; float32."""
    hidden = features @ first[0].T.astype(np.float32) + first[1].astype(np.float32)
    return gelu_exact(hidden) @ second[0].T.astype(np.float32) + second[1].astype(np.float32)
