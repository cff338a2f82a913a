"""Files that used to hang ``open_image`` or give a garbled message, made here (tmp_path).

Each test that once hung runs under a pytest-timeout bound, so a regression fails instead of
stalling the suite.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, generate_uid

from jradi_desktop.cli import main as jradi
from jradi_desktop.imaging import ImageLoadError, LoadFailure, open_image

DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"


def _dx(rows: int, columns: int) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = DX_STORAGE, generate_uid(), "DX"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    return ds


def _error(path: Path, reason: LoadFailure, **kwargs: object) -> ImageLoadError:
    with pytest.raises(ImageLoadError) as info:
        open_image(path, **kwargs)
    error = info.value
    assert error.reason is reason, error
    assert str(path) in error.message_en and str(path) in error.message_ja
    return error


# --- Deflated datasets ----------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_blank_deflated_dx_opens(tmp_path: Path):
    # 2048 x 2048 x 16 bits: exactly two 4 MiB inflate steps, then the stream's end and the
    # pad byte that keeps the file's length even -- the byte zlib keeps in unconsumed_tail.
    ds = _dx(2048, 2048)
    ds.PixelData = bytes(2048 * 2048 * 2)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    path = tmp_path / "blank_deflated.dcm"
    ds.save_as(path, enforce_file_format=True)
    assert path.stat().st_size < 64 << 10
    image = open_image(path)
    assert (image.rows, image.columns, image.transfer_syntax_uid) == (
        2048,
        2048,
        DeflatedExplicitVRLittleEndian,
    )
    assert not image.pixels.any()


def _write_deflated_bomb(path: Path, ds: Dataset, pixel_bytes: int) -> None:
    """A deflated file whose Pixel Data is ``pixel_bytes`` zeros, deflated chunk by chunk."""
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    pixel_header = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, pixel_bytes)
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = DX_STORAGE, ds.SOPInstanceUID
    head = DicomBytesIO()
    head.is_little_endian, head.is_implicit_VR = True, False
    write_file_meta_info(head, meta)
    packer = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(16 << 20)
    with path.open("wb") as fh:
        fh.write(bytes(128) + b"DICM" + head.getvalue())
        fh.write(packer.compress(body.getvalue() + pixel_header))
        for start in range(0, pixel_bytes, len(zeros)):
            fh.write(packer.compress(zeros[: min(len(zeros), pixel_bytes - start)]))
        fh.write(packer.flush())


@pytest.mark.timeout(60)
def test_deflated_400_megapixel_bomb_is_refused_at_once(tmp_path: Path):
    path = tmp_path / "bomb_deflated.dcm"
    _write_deflated_bomb(path, _dx(20000, 20000), 20000 * 20000 * 2)  # 800 MB inflated
    assert path.stat().st_size < 8 << 20
    start = time.perf_counter()
    error = _error(path, LoadFailure.TOO_LARGE)
    assert time.perf_counter() - start < 5.0
    assert "20000 x 20000 x 1 frame(s) = 400,000,000 pixels" in error.message_en
    assert "67,108,864" in error.message_ja


@pytest.mark.timeout(60)
def test_deflated_dataset_larger_than_its_header_says_is_refused(tmp_path: Path):
    # Rows x Columns say 8 x 8; the pixel data inflates to 64 MiB: the byte bound decides.
    path = tmp_path / "liar_deflated.dcm"
    _write_deflated_bomb(path, _dx(8, 8), 64 << 20)
    error = _error(path, LoadFailure.TOO_LARGE, max_pixels=1000)
    assert "inflating to over" in error.message_en


def test_cut_deflated_stream_is_truncated(tmp_path: Path):
    path = tmp_path / "cut_deflated.dcm"
    whole = Path(get_testdata_file("image_dfl.dcm", download=False)).read_bytes()
    path.write_bytes(whole[: len(whole) - 400])
    _error(path, LoadFailure.TRUNCATED)


# --- Bad header values ------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Invalid value for VR IS")
def test_bad_vr_file_is_an_image_load_error_everywhere(tmp_path: Path, capsys):
    bad = Path(get_testdata_file("badVR.dcm", download=False))
    error = _error(bad, LoadFailure.TRUNCATED)
    assert "(0028,0008) Number of Frames is '1A'" in error.message_en
    assert "(0028,0008) Number of Frames" in error.message_ja
    for argv in (["info", str(bad)], ["render", str(bad), str(tmp_path / "out.png")]):
        assert jradi(argv) == 1
        err = capsys.readouterr().err
        assert "Number of Frames is '1A'" in err and "Traceback" not in err


def test_header_values_are_checked_before_decoding(tmp_path: Path):
    ds = _dx(4, 4)
    ds.add_new(0x7FE00010, "OW", bytes(32))  # Pixel Data
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    del ds.BitsAllocated
    path = tmp_path / "no_bits.dcm"
    ds.save_as(path, enforce_file_format=True)
    error = _error(path, LoadFailure.TRUNCATED)
    assert "(0028,0100) Bits Allocated is missing" in error.message_en


# --- Without pixels, or cut off ---------------------------------------------------------------


def test_complete_image_dataset_without_pixel_data_is_no_pixels(tmp_path: Path):
    ds = _dx(64, 64)  # Rows and Columns, but no Pixel Data: complete, not cut off
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = tmp_path / "header_only.dcm"
    ds.save_as(path, enforce_file_format=True)
    error = _error(path, LoadFailure.NO_PIXELS)
    assert "Digital X-Ray Image Storage - For Presentation" in error.message_en


def test_cut_off_before_the_pixel_data_is_truncated(tmp_path: Path):
    whole = Path(get_testdata_file("MR_small.dcm", download=False)).read_bytes()
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm", download=False))
    rows_at = ds["Rows"].file_tell - 8  # file_tell is the value's; 8 header bytes before it
    for cut_at, words in (
        (rows_at + 3, "inside the element that follows"),  # inside Rows's header
        (rows_at + 9, "inside (0028,0010) Rows"),  # inside Rows's value
        (rows_at, "before (0028,0010) Rows"),  # on an element boundary, before Rows
    ):
        path = tmp_path / f"cut_{cut_at}.dcm"
        path.write_bytes(whole[:cut_at])
        assert words in _error(path, LoadFailure.TRUNCATED).message_en


# --- Messages -------------------------------------------------------------------------------


def _png_header_only(path: Path, width: int, height: int) -> Path:
    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(1000)))
        + chunk(b"IEND", b"")
    )
    return path


def test_pillow_bomb_message_reads_as_one_sentence(tmp_path: Path):
    bomb = _png_header_only(tmp_path / "bomb.png", 100_000, 100_000)
    for max_pixels, limit in ((10**12, 2 * Image.MAX_IMAGE_PIXELS), (None, 8192 * 8192)):
        kwargs = {} if max_pixels is None else {"max_pixels": max_pixels}
        error = _error(bomb, LoadFailure.TOO_LARGE, **kwargs)
        assert error.message_en == (
            f'"{bomb}" holds 100000 x 100000 = 10,000,000,000 pixels, over the limit of '
            f"{limit:,} pixels; not decoding it (possible decompression bomb)."
        )
        assert "DOS" not in error.message_ja


def test_symlink_loop_and_dangling_link(tmp_path: Path):
    loop = tmp_path / "a"
    loop.symlink_to(loop)
    error = _error(loop, LoadFailure.LINK_LOOP)
    assert "symbolic-link loop" in error.message_en and "permission" not in error.message_en
    assert "シンボリックリンクの循環" in error.message_ja
    dangling = tmp_path / "b.dcm"
    dangling.symlink_to(tmp_path / "gone.dcm")
    error = _error(dangling, LoadFailure.MISSING)
    assert "symbolic link to" in error.message_en and "gone.dcm" in error.message_ja


@pytest.mark.timeout(10)
def test_fifo_is_refused_without_opening_it(tmp_path: Path):
    fifo = tmp_path / "pipe.dcm"
    os.mkfifo(fifo)
    error = _error(fifo, LoadFailure.NOT_REGULAR)
    assert "named pipe (FIFO)" in error.message_en and "名前付きパイプ" in error.message_ja


def test_negative_frame_names_the_frame_count(tmp_path: Path, capsys):
    dose = Path(get_testdata_file("rtdose.dcm", download=False))
    error = _error(dose, LoadFailure.BAD_FRAME, frame=-1)
    assert "counted from 0, so choose 0 to 14 (15 frame(s))" in error.message_en
    assert "0〜14" in error.message_ja and "?" not in error.message_en
    png = tmp_path / "one.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(png)
    assert "so choose 0 (1 frame(s))" in _error(png, LoadFailure.BAD_FRAME, frame=-1).message_en
    assert jradi(["info", str(dose), "--frame", "-1"]) == 1
    assert "choose 0 to 14" in capsys.readouterr().err
