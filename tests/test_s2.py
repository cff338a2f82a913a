"""Bunny-v1.1's S² glue in numpy against torch, with the reference written from
bunny-v1.1.md §3 (torch's own interpolate, reshapes as the document states them)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from jradi_desktop.architectures.bunny_s2 import _s2

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize(("size_in", "size_out"), [(1152, 768), (1152, 384), (84, 56), (28, 56)])
def test_bicubic_matches_torch(size_in: int, size_out: int) -> None:
    x = np.random.default_rng(0).standard_normal((3, size_in, size_in)).astype(np.float32)
    want = F.interpolate(torch.from_numpy(x)[None], size=size_out, mode="bicubic")[0].numpy()
    got = _s2.resize_bicubic(x, size_out)
    assert got.shape == (3, size_out, size_out)
    assert np.abs(got - want).max() <= 1e-5


def test_bicubic_to_a_third_is_subsampling() -> None:
    # bunny-v1.1.md §3.4: 1152 -> 384 samples source pixel 3 i + 1 exactly.
    x = np.random.default_rng(1).standard_normal((3, 1152, 1152)).astype(np.float32)
    np.testing.assert_allclose(_s2.resize_bicubic(x, 384), x[:, 1::3, 1::3], atol=1e-5)


def test_chessboard_is_row_major_and_merges_back() -> None:
    x = np.arange(2 * 6 * 6, dtype=np.float32).reshape(2, 6, 6)
    crops = _s2.split_chessboard(x, 3)
    for i in range(3):
        for j in range(3):
            np.testing.assert_array_equal(
                crops[i * 3 + j], x[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
            )
    np.testing.assert_array_equal(_s2.merge_chessboard(crops, 3), x)


def test_area_pool_matches_torch() -> None:
    x = np.random.default_rng(2).standard_normal((5, 81, 81)).astype(np.float32)
    want = F.interpolate(torch.from_numpy(x)[None], size=27, mode="area")[0].numpy()
    np.testing.assert_allclose(_s2.area_pool(x, 27), want, atol=1e-6)


def test_pad_to_square_centres_on_grey() -> None:
    image = Image.new("RGB", (10, 4), (255, 0, 0))
    square = np.asarray(_s2.pad_to_square(image))
    assert square.shape == (10, 10, 3)
    # (w - h) // 2 = 3 rows of (127, 127, 127) above, the rest below.
    assert (square[:3] == 127).all() and (square[7:] == 127).all()
    assert (square[3:7] == (255, 0, 0)).all()


def test_normalise_is_pil_bicubic_then_half_mean_std() -> None:
    image = Image.fromarray(np.random.default_rng(3).integers(0, 256, (40, 30, 3), np.uint8))
    got = _s2.normalise(image, 84)
    square = Image.new("RGB", (40, 40), (127, 127, 127))
    square.paste(image, (5, 0))
    pixels = np.asarray(square.resize((84, 84), Image.Resampling.BICUBIC), np.float32) / 255
    np.testing.assert_allclose(got, ((pixels - 0.5) / 0.5).transpose(2, 0, 1), atol=1e-6)


def test_gelu_is_the_erf_form() -> None:
    x = np.linspace(-8, 8, 20001, dtype=np.float32)
    exact = torch.nn.GELU()(torch.from_numpy(x).double()).numpy()
    np.testing.assert_allclose(_s2.gelu_exact(x), exact, rtol=1e-6, atol=1e-7)
    # torch's own float32 GELU loses digits in 1 + erf(x) for negative x
    float32 = torch.nn.GELU()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(_s2.gelu_exact(x), float32, atol=2e-6)


def _reference_rows(pixels: np.ndarray, scales: list[int], patch: torch.nn.Conv2d) -> np.ndarray:
    """bunny-v1.1.md §3 steps 4-8 with torch ops; the trunk is one patch embedding."""
    x = torch.from_numpy(pixels)[None]
    base = scales[0]
    outs = []
    for scale in scales:
        n = -(-scale // base)
        resized = F.interpolate(x, size=scale, mode="bicubic")
        h, w = resized.shape[-2:]
        crops = torch.cat(
            [
                resized[..., i * h // n : (i + 1) * h // n, j * w // n : (j + 1) * w // n]
                for i in range(n)
                for j in range(n)
            ]
        )
        rows = patch(crops).flatten(2).transpose(1, 2)  # [n*n, t, C], t row-major
        side = int(rows.shape[1] ** 0.5)
        grid = rows.transpose(1, 2).reshape(n * n, -1, side, side)
        merged = torch.cat(
            [torch.cat([grid[i * n + j] for j in range(n)], dim=-1) for i in range(n)], dim=-2
        )
        outs.append(merged[None])
    size = outs[0].shape[-1]
    pooled = torch.cat([F.interpolate(o, size=size, mode="area") for o in outs], dim=1)
    return pooled.flatten(2).transpose(1, 2)[0].numpy()


def test_s2_features_match_the_reference() -> None:
    torch.manual_seed(0)
    patch = torch.nn.Conv2d(3, 8, kernel_size=14, stride=14)
    scales = [28, 56, 84]
    image = Image.fromarray(np.random.default_rng(4).integers(0, 256, (70, 50, 3), np.uint8))
    pixels = _s2.normalise(image, max(scales))

    def trunk(crops: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = patch(torch.from_numpy(crops))
        return out.flatten(2).transpose(1, 2).numpy()

    got = _s2.s2_features(pixels, scales, trunk)
    with torch.no_grad():
        want = _reference_rows(pixels, scales, patch)
    assert got.shape == (4, 24)  # (28 / 14)^2 rows, 8 channels x 3 scales
    assert np.abs(got - want).max() <= 1e-5


def test_projector_matches_torch() -> None:
    torch.manual_seed(1)
    mlp = torch.nn.Sequential(torch.nn.Linear(24, 16), torch.nn.GELU(), torch.nn.Linear(16, 16))
    x = np.random.default_rng(5).standard_normal((9, 24)).astype(np.float32)
    with torch.no_grad():
        want = mlp(torch.from_numpy(x)).numpy()
    weights = [(m.weight.detach().numpy(), m.bias.detach().numpy()) for m in (mlp[0], mlp[2])]
    np.testing.assert_allclose(_s2.project(x, *weights), want, atol=1e-5)
