"""Damaged files never hang ``open_image`` and never escape as anything but ImageLoadError.

The bundled sample DICOM, and a PNG and a JPEG written here, are mutated a few hundred times
with a fixed seed: cut at random offsets, random bytes flipped, header values (Rows, Columns,
Bits Allocated, Number of Frames, ...) and the Transfer Syntax UID changed, the dataset
deflated (then cut or flipped). Every call must return an XrayImage that renders, or raise
ImageLoadError, within a few seconds (SIGALRM interrupts a call that takes longer).
"""

from __future__ import annotations

import io
import random
import signal
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
)

from jradi_desktop.imaging import ImageLoadError, XrayImage, image_info, open_image, render
from jradi_desktop.ui.selftest import sample_dicom

SEED = 20240601
PER_CALL_SECONDS = 5.0
CASES = {"dicom": 300, "png": 80, "jpeg": 40}

# Image Pixel module elements (explicit VR LE, US, 2-byte value) and values to put in them.
US_TAGS = {
    "SamplesPerPixel": (0x0028, 0x0002),
    "Rows": (0x0028, 0x0010),
    "Columns": (0x0028, 0x0011),
    "BitsAllocated": (0x0028, 0x0100),
    "BitsStored": (0x0028, 0x0101),
    "HighBit": (0x0028, 0x0102),
    "PixelRepresentation": (0x0028, 0x0103),
}
US_VALUES = (0, 1, 2, 3, 4, 7, 8, 12, 15, 16, 17, 24, 31, 32, 33, 63, 64, 65, 1023, 1025, 65535)
FRAME_VALUES = (b"0 ", b"1 ", b"2 ", b"-1", b"1A", b"99999999", b"1.5 ", b"  ", b"\x00\x00")
SYNTAXES = (
    ImplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    JPEG2000Lossless,
    RLELossless,
    "1.2.840.10008.1.2.4.100",  # MPEG2: no decoder
    "1.2.3.4.5.6",  # no such syntax
)


class _Hang(BaseException):  # not Exception: open_image's catch-all must not swallow it
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Hang


# --- Building the files -----------------------------------------------------------------------


def _split_dicom(raw: bytes) -> tuple[bytes, bytes]:
    """(preamble + DICM + File Meta, dataset) of an explicit VR little endian file."""
    (group_length,) = struct.unpack("<I", raw[140:144])
    end = 144 + group_length
    return raw[:end], raw[end:]


def _with_syntax(meta: FileMetaDataset, syntax: str) -> bytes:
    """Preamble, DICM and ``meta`` with its Transfer Syntax UID replaced."""
    new = FileMetaDataset()
    for element in meta:
        if element.tag.element != 0x0000:  # the group length is written anew
            new.add(element)
    new.TransferSyntaxUID = syntax
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_file_meta_info(buffer, new, enforce_standard=True)
    return bytes(128) + b"DICM" + buffer.getvalue()


def _deflate(data: bytes, pad: bool) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    out = packer.compress(data) + packer.flush()
    return out + b"\x00" if pad and len(out) % 2 else out


def _set_us(dataset: bytes, tag: tuple[int, int], value: int) -> bytes:
    marker = struct.pack("<HH", *tag) + b"US\x02\x00"
    at = dataset.find(marker)
    if at < 0:
        return dataset
    at += len(marker)
    return dataset[:at] + struct.pack("<H", value) + dataset[at + 2 :]


def _with_frames(dataset: bytes, value: bytes) -> bytes:
    """Insert (0028,0008) Number of Frames (IS) before Rows."""
    at = dataset.find(struct.pack("<HH", 0x0028, 0x0010) + b"US")
    element = struct.pack("<HH", 0x0028, 0x0008) + b"IS" + struct.pack("<H", len(value)) + value
    return dataset[:at] + element + dataset[at:]


def _flip(data: bytes, rng: random.Random, count: int, within: int | None = None) -> bytes:
    out = bytearray(data)
    span = min(len(out), within or len(out))
    for _ in range(count):
        out[rng.randrange(span)] = rng.randrange(256)
    return bytes(out)


def _cut(data: bytes, rng: random.Random) -> bytes:
    # Most cuts in the first few kilobytes (headers), some anywhere.
    end = 4096 if rng.random() < 0.7 else len(data)
    return data[: rng.randrange(1, min(end, len(data)))]


def dicom_mutations(raw: bytes, rng: random.Random, count: int) -> Iterator[tuple[str, bytes]]:
    head, dataset = _split_dicom(raw)
    meta = pydicom.dcmread(io.BytesIO(raw), stop_before_pixels=True).file_meta
    for _ in range(count):
        kind = rng.choice(["cut", "flip", "us", "frames", "syntax", "deflate", "mix"])
        if kind == "cut":
            yield kind, _cut(raw, rng)
        elif kind == "flip":
            yield kind, _flip(raw, rng, rng.randint(1, 8), within=rng.choice([1024, None]))
        elif kind == "us":
            name = rng.choice(sorted(US_TAGS))
            value = rng.choice(US_VALUES)
            yield f"{name}={value}", head + _set_us(dataset, US_TAGS[name], value)
        elif kind == "frames":
            value = rng.choice(FRAME_VALUES)
            yield f"NumberOfFrames={value!r}", head + _with_frames(dataset, value)
        elif kind == "syntax":
            syntax = rng.choice(SYNTAXES)
            yield f"syntax={syntax}", _with_syntax(meta, syntax) + dataset
        elif kind == "deflate":
            deflated = _with_syntax(meta, DeflatedExplicitVRLittleEndian) + _deflate(
                dataset, pad=rng.random() < 0.5
            )
            how = rng.choice(["whole", "cut", "flip"])
            if how == "cut":
                deflated = deflated[: rng.randrange(len(head), len(deflated))]
            elif how == "flip":
                deflated = _flip(deflated, rng, rng.randint(1, 4))
            yield f"deflate-{how}", deflated
        else:  # a changed header value, then a cut or flips
            name = rng.choice(sorted(US_TAGS))
            mutated = head + _set_us(dataset, US_TAGS[name], rng.choice(US_VALUES))
            yield f"mix-{name}", _flip(_cut(mutated, rng), rng, rng.randint(0, 3))


def _png_chunks(data: bytes) -> list[list[bytes]]:
    chunks, at = [], 8
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        chunks.append([data[at + 4 : at + 8], data[at + 8 : at + 8 + length]])
        at += 12 + length
    return chunks


def _png_join(chunks: list[list[bytes]]) -> bytes:
    out = b"\x89PNG\r\n\x1a\n"
    for tag, body in chunks:
        crc = zlib.crc32(tag + body) & 0xFFFFFFFF
        out += struct.pack(">I", len(body)) + tag + body + struct.pack(">I", crc)
    return out


def png_mutations(raw: bytes, rng: random.Random, count: int) -> Iterator[tuple[str, bytes]]:
    for _ in range(count):
        kind = rng.choice(["cut", "flip", "ihdr", "idat"])
        if kind == "cut":
            yield kind, raw[: rng.randrange(1, len(raw))]
        elif kind == "flip":
            yield kind, _flip(raw, rng, rng.randint(1, 6))
        elif kind == "ihdr":  # width, height, depth, colour type changed, CRC kept valid
            chunks = _png_chunks(raw)
            ihdr = bytearray(chunks[0][1])
            field = rng.choice(["width", "height", "depth", "colour"])
            if field in ("width", "height"):
                value = rng.choice([0, 1, 7, 65, 4096, 100_000, 2**31 - 1, 2**32 - 1])
                at = 0 if field == "width" else 4
                ihdr[at : at + 4] = struct.pack(">I", value)
            else:
                ihdr[8 if field == "depth" else 9] = rng.choice([0, 1, 2, 3, 4, 6, 8, 16, 255])
            chunks[0][1] = bytes(ihdr)
            yield f"ihdr-{field}", _png_join(chunks)
        else:  # image data replaced, CRC kept valid
            chunks = _png_chunks(raw)
            for chunk in chunks:
                if chunk[0] == b"IDAT":
                    chunk[1] = rng.choice(
                        [zlib.compress(bytes(10_000_000)), _flip(chunk[1], rng, 3), b""]
                    )
            yield "idat", _png_join(chunks)


def jpeg_mutations(raw: bytes, rng: random.Random, count: int) -> Iterator[tuple[str, bytes]]:
    sof = raw.find(b"\xff\xc0")
    for _ in range(count):
        kind = rng.choice(["cut", "flip", "size"])
        if kind == "cut":
            yield kind, raw[: rng.randrange(1, len(raw))]
        elif kind == "flip":
            yield kind, _flip(raw, rng, rng.randint(1, 6))
        else:
            size = struct.pack(">HH", rng.choice([0, 1, 65535]), rng.choice([0, 1, 65535]))
            yield kind, raw[: sof + 5] + size + raw[sof + 9 :]


# --- The test ---------------------------------------------------------------------------------


def _sources() -> dict[str, tuple[bytes, Callable[..., Iterator]]]:
    rng = np.random.default_rng(0)
    png, jpeg = io.BytesIO(), io.BytesIO()
    Image.fromarray(rng.integers(0, 4096, (48, 64), dtype=np.uint16)).save(png, format="PNG")
    Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)).save(jpeg, format="JPEG")
    return {
        "dicom": (sample_dicom().read_bytes(), dicom_mutations),
        "png": (png.getvalue(), png_mutations),
        "jpeg": (jpeg.getvalue(), jpeg_mutations),
    }


def _open_bounded(path: Path) -> str:
    """'ok' or the ImageLoadError's reason; raises anything else (or _Hang)."""
    signal.setitimer(signal.ITIMER_REAL, PER_CALL_SECONDS)
    try:
        image = open_image(path)
        assert isinstance(image, XrayImage)
        render(image)
        image_info(image)
        return "ok"
    except ImageLoadError as exc:
        assert str(path) in exc.message_en and str(path) in exc.message_ja
        return str(exc.reason)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


@pytest.mark.filterwarnings("ignore")  # pydicom warns about every invalid value it reads
@pytest.mark.timeout(120, method="thread")  # the per-call SIGALRM is ours
def test_mutated_files_load_or_raise_image_load_error(tmp_path: Path):
    rng = random.Random(SEED)
    previous = signal.signal(signal.SIGALRM, _alarm)
    failures: list[str] = []
    outcomes: dict[str, int] = {}
    slowest = (0.0, "")
    try:
        for source, (raw, mutate) in _sources().items():
            for index, (how, data) in enumerate(mutate(raw, rng, CASES[source])):
                case = f"{source}#{index} {how}"
                path = tmp_path / f"{source}_{index}"
                path.write_bytes(data)
                start = time.perf_counter()
                try:
                    outcome = _open_bounded(path)
                except _Hang:
                    failures.append(f"{case}: still running after {PER_CALL_SECONDS} s")
                    continue
                except Exception as exc:  # the point: nothing else may escape
                    failures.append(f"{case}: {type(exc).__name__}: {exc}")
                    continue
                finally:
                    seconds = time.perf_counter() - start
                    slowest = max(slowest, (seconds, case))
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                path.unlink()
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert not failures, "\n".join(failures[:20])
    assert sum(outcomes.values()) == sum(CASES.values())
    assert outcomes.get("ok") and len(outcomes) > 3, outcomes  # the mutations reach many paths
    print(f"outcomes {outcomes}; slowest {slowest[0]:.2f} s ({slowest[1]})")
