"""Imaging speed, measured against pydicom's own pipeline in the same run.

    .venv/bin/python benchmarks/bench_imaging.py [--repeats 7] [--renders 50]

(a) A 2048 x 2048 16-bit DICOM (written to a temp dir) to its first display image:
    ``render(open_image(path))`` vs ``dcmread`` + ``ds.pixel_array`` + ``apply_modality_lut``
    + ``apply_voi_lut`` + scaling to uint8. Median of --repeats runs each, interleaved.
(b) Re-rendering a 1024 x 1024 float32 display buffer at a new window each time:
    median ms over --renders renders (goal <= 10 ms), for each VOI function, with pydicom's
    ``apply_windowing`` + scaling on the same buffer for comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut, apply_windowing
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jradi_desktop.imaging import VoiLut, Window, XrayImage, open_image, render

GOAL_MS = 10.0


def synthetic_radiograph(size: int, seed: int = 0) -> np.ndarray:
    """A smooth 12-bit chest-like field with noise (content does not change the timings)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    body = 3000 - 1800 * np.exp(-((np.abs(x) - 0.45) ** 2 / 0.06 + y**2 / 0.5))
    noise = rng.normal(0, 40, (size, size))
    return np.clip(body + noise, 0, 4095).astype(np.uint16)


def write_dicom(path: Path, arr: np.ndarray, window: bool = True) -> Path:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "DX"
    ds.set_pixel_data(arr, "MONOCHROME2", 12)
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    if window:
        ds.WindowCenter, ds.WindowWidth = 2048, 3000
    ds.save_as(path, enforce_file_format=True)
    return path


def pydicom_display(path: Path) -> np.ndarray:
    ds = pydicom.dcmread(path)
    arr = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds)
    return _pydicom_to_uint8(arr, ds)


def _pydicom_to_uint8(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    # apply_windowing's output range is the stored range after rescale (PS3.3 C.11.2.1.2).
    slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
    y_min, y_max = intercept, (2**ds.BitsStored - 1) * slope + intercept
    return np.clip((arr - y_min) * (255.0 / (y_max - y_min)) + 0.5, 0, 255).astype(np.uint8)


def ours_display(path: Path) -> np.ndarray:
    return render(open_image(path))


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def bench_open(repeats: int) -> None:
    print("(a) 2048 x 2048 16-bit DICOM -> first display image (uint8)")
    with tempfile.TemporaryDirectory() as tmp:
        path = write_dicom(Path(tmp) / "cr_2k.dcm", synthetic_radiograph(2048))
        no_window = write_dicom(Path(tmp) / "cr_2k_auto.dcm", synthetic_radiograph(2048), False)
        size_mb = path.stat().st_size / 2**20
        ours, theirs = ours_display(path), pydicom_display(path)  # warm the page cache
        ours_display(no_window)
        diff = int(np.abs(ours.astype(int) - theirs.astype(int)).max())
        ours_t, theirs_t, auto_t = [], [], []
        for _ in range(repeats):  # interleaved so drift hits both alike
            ours_t.append(median_ms(lambda: ours_display(path), 1))
            theirs_t.append(median_ms(lambda: pydicom_display(path), 1))
            auto_t.append(median_ms(lambda: ours_display(no_window), 1))
    ours_ms, theirs_ms = statistics.median(ours_t), statistics.median(theirs_t)
    print(f"    file {size_mb:.1f} MiB, median of {repeats} runs each")
    print(f"    jradi  open_image + render          : {ours_ms:8.1f} ms")
    print(f"    pydicom pixel_array + LUTs + uint8  : {theirs_ms:8.1f} ms")
    print(f"    ratio pydicom / jradi               : {theirs_ms / ours_ms:8.2f} x")
    print(f"    max |difference| between outputs   : {diff} (8-bit levels)")
    auto_ms = statistics.median(auto_t)
    print(f"    jradi, no header window (auto window): {auto_ms:7.1f} ms")


def bench_render(renders: int) -> None:
    print(f"(b) re-render a 1024 x 1024 display buffer at a new window, median of {renders}")
    values = synthetic_radiograph(1024, seed=1).astype(np.float32)
    image = XrayImage(pixels=values, bits_stored=12)
    lut = VoiLut(0, 12, np.sqrt(np.arange(4096) / 4095 * 4095**2).astype(np.float32))
    lut_image = XrayImage(pixels=values, bits_stored=12, voi_luts=(lut,))
    rgb_image = XrayImage(
        pixels=values, rgb=(values[..., None] / 16).astype(np.uint8).repeat(3, axis=2)
    )

    def series(fn: Callable[[int], object]) -> float:
        fn(0)  # warm-up
        return statistics.median(median_ms(lambda i=i: fn(i), 1) for i in range(renders))

    rows = {
        "LINEAR": series(lambda i: render(image, Window(1500 + 10 * i, 2000 + 8 * i))),
        "LINEAR_EXACT": series(
            lambda i: render(image, Window(1500 + 10 * i, 2000, "LINEAR_EXACT"))
        ),
        "SIGMOID": series(lambda i: render(image, Window(1500 + 10 * i, 2000, "SIGMOID"))),
        "LINEAR + invert": series(
            lambda i: render(image, Window(1500 + 10 * i, 2000), invert=True)
        ),
        "VOI LUT Sequence": series(lambda i: render(lut_image)),
        "RGB colour (3 x uint8)": series(lambda i: render(rgb_image, Window(128 + i, 200))),
    }
    ds = Dataset()
    ds.PhotometricInterpretation, ds.BitsStored, ds.PixelRepresentation = "MONOCHROME2", 12, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0

    def pydicom_window(i: int) -> np.ndarray:
        ds.WindowCenter, ds.WindowWidth = 1500 + 10 * i, 2000 + 8 * i
        return _pydicom_to_uint8(apply_windowing(values, ds), ds)

    theirs = series(pydicom_window)
    for name, ms in rows.items():
        verdict = "ok" if ms <= GOAL_MS else "OVER GOAL"
        print(f"    jradi render {name:24s}: {ms:7.2f} ms  ({verdict}, goal <= {GOAL_MS:g} ms)")
    print(f"    pydicom apply_windowing + uint8     : {theirs:7.2f} ms")
    print(f"    ratio pydicom / jradi (LINEAR)      : {theirs / rows['LINEAR']:7.2f} x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--renders", type=int, default=50)
    args = parser.parse_args()
    print(
        f"numpy {np.__version__}, pydicom {pydicom.__version__}, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s)"
    )
    bench_open(args.repeats)
    bench_render(args.renders)


if __name__ == "__main__":
    main()
