"""jradi_desktop.imaging refusing files: empty, cut off, undecodable, too large (bombs), each
error naming the file and its reason in Japanese and English."""

from __future__ import annotations

import io
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from image_files import bundled, expect_error, save_png, write_dicom
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import DeflatedExplicitVRLittleEndian, JPEGBaseline8Bit

from jradi_desktop.imaging import ImageLoadError, LoadFailure, open_image


def test_zero_bytes_text_directory_missing(tmp_path: Path):
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(b"")
    expect_error(empty, LoadFailure.EMPTY)
    text = tmp_path / "notes.dcm"
    text.write_text("これは画像ではありません\n", encoding="utf-8")
    expect_error(text, LoadFailure.NOT_IMAGE)
    expect_error(tmp_path, LoadFailure.DIRECTORY)
    expect_error(tmp_path / "nowhere.png", LoadFailure.MISSING)
    expect_error(text / "child.dcm", LoadFailure.MISSING)


def test_truncated_files(tmp_path: Path):
    error = expect_error(bundled("MR_truncated.dcm"), LoadFailure.TRUNCATED)
    assert "8,130 of the 8,192 bytes" in error.message_en
    whole = bundled("MR_small.dcm").read_bytes()
    for cut_at in (140, 600, 1500):  # after the meta, inside the header, inside pixel data
        cut = tmp_path / f"cut_{cut_at}.dcm"
        cut.write_bytes(whole[:cut_at])
        expect_error(cut, LoadFailure.TRUNCATED)
    png = save_png(tmp_path / "whole.png", Image.fromarray(np.arange(4096, dtype=np.uint16)))
    cut = tmp_path / "cut.png"
    cut.write_bytes(png.read_bytes()[: png.stat().st_size // 2])
    expect_error(cut, LoadFailure.TRUNCATED)


def test_dicom_without_pixel_data():
    error = expect_error(bundled("rtplan.dcm"), LoadFailure.NO_PIXELS)
    assert "RT Plan Storage" in error.message_ja


def test_undecodable_dicom_is_reported():
    # A non-conformant JPEG that neither pylibjpeg nor Pillow (nor pydicom) decodes.
    error = expect_error(bundled("JPEG-lossy.dcm"), LoadFailure.DECODE_FAILED)
    assert "JPEG Extended" in error.message_en


def test_transfer_syntax_without_decoder(tmp_path: Path):
    path = write_dicom(tmp_path / "video.dcm", np.zeros((8, 8), np.uint8))
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 video
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + bytes(60)])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    error = expect_error(path, LoadFailure.UNSUPPORTED_SYNTAX)
    assert "MPEG2" in error.message_en and "MPEG2" in error.message_ja


def test_dicom_bomb_refused_before_decoding(tmp_path: Path):
    path = write_dicom(tmp_path / "bomb.dcm", np.zeros((4, 4), np.uint16))
    ds = pydicom.dcmread(path)
    ds.Rows, ds.Columns, ds.NumberOfFrames = 60000, 60000, 100
    ds.save_as(path, enforce_file_format=True)
    error = expect_error(path, LoadFailure.TOO_LARGE)
    assert "360,000,000,000 pixels" in error.message_en
    small = write_dicom(tmp_path / "small.dcm", np.zeros((100, 100), np.uint16))
    expect_error(small, LoadFailure.TOO_LARGE, max_pixels=9_999)
    assert open_image(small, max_pixels=10_000).rows == 100


def test_compressed_frame_claiming_more_pixels_than_the_header(tmp_path: Path):
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buffer, format="JPEG")
    jpeg = bytearray(buffer.getvalue())
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)  # frame header: 60000 x 60000
    path = write_dicom(tmp_path / "jpeg_bomb.dcm", np.zeros((8, 8), np.uint8))
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([bytes(jpeg)])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    error = expect_error(path, LoadFailure.TOO_LARGE)
    assert "60000 x 60000" in error.message_en


def test_deflate_bomb(tmp_path: Path):
    path = write_dicom(tmp_path / "deflate.dcm", np.zeros((4, 4), np.uint8))
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.add_new(0x00091010, "OB", bytes(24 << 20))  # 24 MiB of zeros, ~24 KiB deflated
    ds.save_as(path, enforce_file_format=True)
    assert path.stat().st_size < 1 << 20
    expect_error(path, LoadFailure.TOO_LARGE, max_pixels=1000)


def png_chunk(tag: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(tag + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


def test_png_bombs(tmp_path: Path):
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(bytes(1000)))
        + png_chunk(b"IEND", b"")
    )
    # Over Pillow's own limit: its DecompressionBombError becomes ours, whatever our limit.
    expect_error(bomb, LoadFailure.TOO_LARGE, max_pixels=10**12)
    big = save_png(tmp_path / "big.png", Image.new("L", (300, 300)))
    error = expect_error(big, LoadFailure.TOO_LARGE, max_pixels=50_000)
    assert "90,000" in error.message_en and "50,000" in error.message_ja


def test_error_pickles_across_processes(tmp_path: Path):
    path = tmp_path / "missing.dcm"
    with pytest.raises(ImageLoadError) as info:
        open_image(path)
    clone = pickle.loads(pickle.dumps(info.value))
    assert (clone.reason, clone.path, str(clone)) == (info.value.reason, path, str(info.value))
    assert clone.message("en") == info.value.message_en
