"""Image size declared inside a compressed frame (JPEG, JPEG-LS, JPEG 2000), read before
decoding: a codestream can claim far more pixels than the DICOM header, and the decoder
would allocate for the codestream's claim."""

from __future__ import annotations

import struct

_J2K_START = b"\xff\x4f\xff\x51"  # SOC then SIZ
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
# Start-of-frame markers: SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC); JPEG-LS SOF55.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}
_STANDALONE = frozenset(range(0xD0, 0xD9)) | {0x01}


def declared_size(frame: bytes) -> tuple[int, int] | None:
    """(rows, columns) the codestream header declares, or None when it cannot tell."""
    if frame.startswith(_JP2_SIGNATURE):
        start = frame.find(_J2K_START, 0, 1 << 16)
        frame = frame[start:] if start >= 0 else b""
    if frame.startswith(_J2K_START):
        if len(frame) < 24:
            return None
        # SIZ: Lsiz, Rsiz (2 bytes each), Xsiz, Ysiz, XOsiz, YOsiz (4 bytes each)
        xsiz, ysiz, xoff, yoff = struct.unpack(">IIII", frame[8:24])
        return max(ysiz - yoff, 0), max(xsiz - xoff, 0)
    if frame.startswith(b"\xff\xd8"):
        return _jpeg_size(frame)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker == 0xDA:  # scan data before any frame header
            return None
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF:
            if pos + 9 > len(data):
                return None
            rows, columns = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return (rows, columns) if rows else None  # 0 rows: height comes in a DNL
        pos += 2 + length
    return None
