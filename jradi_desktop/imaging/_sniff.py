"""Tell DICOM, PNG and JPEG apart by content, never by file name."""

from __future__ import annotations

import os
import stat
import struct
from enum import StrEnum
from pathlib import Path

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
DICOM_MAGIC = b"DICM"
DICOM_PREAMBLE = 128
HEAD_BYTES = DICOM_PREAMBLE + len(DICOM_MAGIC)

# A dataset written without preamble and File Meta starts with its lowest tag: nearly always
# group 0008 (Specific Character Set, Image Type, SOP Class), or a bare group 0002 meta.
_HEADERLESS_GROUPS = frozenset({0x0002, 0x0008})
_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL "
    b"UN UR US UT UV".split()
)


class Kind(StrEnum):
    DICOM = "DICOM"
    DICOM_NO_META = "DICOM without preamble"
    PNG = "PNG"
    JPEG = "JPEG"
    UNKNOWN = "unknown"


def sniff_bytes(head: bytes) -> Kind:
    """The kind of file whose first (up to) 132 bytes are ``head``."""
    # DICM first: a DICOM preamble may legally hold another format's header (dual files).
    if head[DICOM_PREAMBLE:HEAD_BYTES] == DICOM_MAGIC:
        return Kind.DICOM
    if head.startswith(PNG_MAGIC):
        return Kind.PNG
    if head.startswith(JPEG_MAGIC):
        return Kind.JPEG
    if _looks_like_headerless_dicom(head):
        return Kind.DICOM_NO_META
    return Kind.UNKNOWN


def sniff(path: Path) -> Kind:
    return sniff_bytes(read_head(path))


def read_head(path: Path) -> bytes:
    """The first (up to) 132 bytes of ``path``; b"" unless it is a regular file.

    Opened non-blocking and checked on the open descriptor, so a file swapped for a named
    pipe after the caller's ``stat`` cannot block.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        return fh.read(HEAD_BYTES)


def _looks_like_headerless_dicom(head: bytes) -> bool:
    """First element tag in a plausible group, followed by an explicit VR or a sane length."""
    if len(head) < 8:
        return False
    for order in "<>":
        group, element = struct.unpack(order + "HH", head[:4])
        if group not in _HEADERLESS_GROUPS or element > 0x1FFF:
            continue
        if head[4:6] in _VRS:  # explicit VR
            return True
        (length,) = struct.unpack(order + "I", head[4:8])  # implicit VR: a 4-byte length
        if order == "<" and length < 1 << 16:
            return True
    return False
