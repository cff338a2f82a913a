"""jradi_desktop.imaging: PNG and JPEG files, and the listing of folders of images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from image_files import save_png
from PIL import Image

from jradi_desktop.imaging import Window, image_info, open_image, render, scan_images

# --- PNG / JPEG ----------------------------------------------------------------------------


def test_png_8_bit_grey_is_shown_unchanged(tmp_path: Path):
    arr = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
    image = open_image(save_png(tmp_path / "grey.png", Image.fromarray(arr)))
    assert (image.file_format, image.photometric, image.bits_stored) == ("PNG", "MONOCHROME2", 8)
    np.testing.assert_array_equal(render(image), arr)
    assert image_info(image)["transfer_syntax"] == "PNG"


def test_png_16_bit(tmp_path: Path):
    rng = np.random.default_rng(1)
    arr = rng.integers(200, 3800, size=(64, 48), dtype=np.uint16)
    path = save_png(tmp_path / "sixteen", Image.fromarray(arr))  # no extension
    image = open_image(path)
    assert image.bits_stored == 16 and image.rgb is None
    np.testing.assert_array_equal(image.pixels, arr)
    low, high = np.percentile(arr, [0.5, 99.5])
    assert image.default_window == Window.from_range(low, high, "AUTO")


def test_palette_png(tmp_path: Path):
    arr = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    grey_palette = [v for i in range(256) for v in (i, i, i)]
    grey = Image.fromarray(arr).convert("L").convert("P")
    grey.putpalette(grey_palette)
    image = open_image(save_png(tmp_path / "grey_p.png", grey))
    assert image.photometric == "MONOCHROME2"
    np.testing.assert_array_equal(image.pixels, np.asarray(grey.convert("L")))
    colour = Image.fromarray(arr).convert("P")
    colour.putpalette([v for i in range(256) for v in (i, 255 - i, 0)])
    image = open_image(save_png(tmp_path / "colour_p.png", colour))
    assert image.photometric == "RGB"
    np.testing.assert_array_equal(image.rgb, np.asarray(colour.convert("RGB")))


def test_rgba_png_composited_on_black(tmp_path: Path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[..., 3] = [[255, 0, 128], [255, 255, 255]]
    image = open_image(save_png(tmp_path / "rgba.png", Image.fromarray(rgba)))
    assert image.photometric == "RGB"
    np.testing.assert_array_equal(image.rgb[0, 0], (200, 100, 50))
    np.testing.assert_array_equal(image.rgb[0, 1], (0, 0, 0))
    np.testing.assert_array_equal(image.rgb[0, 2], (100, 50, 25))


def test_jpeg_grey_rgb_and_exif_orientation(tmp_path: Path):
    arr = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (32, 1))
    Image.fromarray(arr).save(tmp_path / "grey.jpg", quality=95)
    grey = open_image(tmp_path / "grey.jpg")
    assert grey.photometric == "MONOCHROME2" and grey.file_format == "JPEG"
    assert np.abs(grey.pixels - arr).mean() < 2
    rgb = Image.fromarray(np.dstack([arr, arr[:, ::-1], np.full_like(arr, 128)]))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    rgb.save(tmp_path / "photo.jpeg", quality=95, exif=exif)
    photo = open_image(tmp_path / "photo.jpeg")
    assert photo.photometric == "RGB" and photo.rgb.shape == (64, 32, 3)


# --- Listing -------------------------------------------------------------------------------


def test_scan_images(tmp_path: Path):
    root = tmp_path / "study"
    (root / "series2").mkdir(parents=True)
    (root / ".hidden").mkdir()
    for name in [
        "IM10",
        "IM2",
        "a.DCM",
        "b.png",
        "c.JPG",
        "d.jpeg",
        "e.dicom",
        "notes.txt",
        ".DS_Store",
        "series2/x.dcm",
        ".hidden/y.dcm",
        "DICOMDIR",
    ]:
        (root / name).write_bytes(b"x")
    (root / "magic.bin").write_bytes(bytes(128) + b"DICM")
    explicit = tmp_path / "single.png"
    explicit.write_bytes(b"x")
    scan = scan_images([root, explicit, root / "b.png"])
    assert scan.skipped == []
    names = [p.relative_to(tmp_path).as_posix() for p in scan.files]
    assert names == [
        "study/a.DCM",
        "study/b.png",
        "study/c.JPG",
        "study/d.jpeg",
        "study/e.dicom",
        "study/IM2",
        "study/IM10",
        "study/magic.bin",
        "study/series2/x.dcm",
        "single.png",
    ]
