"""DICOM file -> :class:`XrayImage`, one frame, through pydicom's pixel-data decoders.

Order of checks, each before any work it protects: a deflated dataset declares and inflates
to a bounded size (pydicom inflates it whole); the file parses as DICOM; it has pixel data
(else: cut off, or complete without pixels); a decoder for its transfer syntax is installed;
the frame exists; rows x columns x frames is under the pixel limit; the native pixel data is
as long as the header says. Only then is the one frame decoded.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.pixels import get_decoder
from pydicom.pixels.decoders.base import Decoder
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from jradi_desktop.imaging._dicom_checks import (
    PIXEL_KEYWORDS,
    check_deflate,
    check_geometry,
    no_pixels,
)
from jradi_desktop.imaging._dicom_pixels import fill_metadata, pixels_to_image
from jradi_desktop.imaging._errors import LoadFailure, load_error
from jradi_desktop.imaging._image import XrayImage

_PLUGIN_HINT_JA = (
    "pylibjpeg と pylibjpeg-libjpeg / pylibjpeg-openjpeg / pylibjpeg-rle、"
    "または python-gdcm をインストールしてください。"
)
_PLUGIN_HINT_EN = (
    "Install pylibjpeg with pylibjpeg-libjpeg / pylibjpeg-openjpeg / pylibjpeg-rle, or python-gdcm."
)
_NO_DECODER_JA = (
    "pydicom にこの形式の展開処理がありません（動画など）。別の転送構文で書き出してください。"
)
_NO_DECODER_EN = (
    "pydicom has no decoder for it (video, for example); export the image in "
    "another transfer syntax."
)


def read_dicom(path: Path, *, headerless: bool, frame: int, max_pixels: int) -> XrayImage:
    """Decode ``frame`` of the DICOM file at ``path`` (``headerless``: no preamble/meta)."""
    inflated = None if headerless else check_deflate(path, max_pixels)
    ds = _read_dataset(path, headerless)
    keyword = next((k for k in PIXEL_KEYWORDS if k in ds), None)
    if keyword is None:
        size = inflated.size if inflated is not None else path.stat().st_size
        raise no_pixels(path, ds, size)
    syntax = _transfer_syntax(ds)
    decoder = _decoder(path, syntax)
    frames = check_geometry(path, ds, keyword, decoder, frame, max_pixels)

    try:
        arr, props = decoder.as_array(ds, index=frame)
    except MemoryError:
        raise
    except Exception as exc:
        detail = f"{syntax.name}: {str(exc).rstrip('.')}"
        raise load_error(path, LoadFailure.DECODE_FAILED, detail=detail) from exc
    photometric = (
        str(
            props.get("photometric_interpretation")
            or ds.get("PhotometricInterpretation", "MONOCHROME2")
        )
        .strip()
        .upper()
    )
    image = pixels_to_image(path, arr, ds, photometric, frame)
    fill_metadata(image, ds, frame)
    image.frames, image.frame = frames, frame
    image.transfer_syntax_uid, image.transfer_syntax_name = str(syntax), syntax.name
    image.source = path
    return image


def _read_dataset(path: Path, headerless: bool) -> Dataset:
    try:
        ds = pydicom.dcmread(path, force=headerless)
    except InvalidDicomError as exc:
        raise load_error(path, LoadFailure.NOT_IMAGE, detail=str(exc)) from exc
    except BytesLengthException as exc:  # its text ends in advice about pydicom's config
        raise load_error(
            path,
            LoadFailure.TRUNCATED,
            detail="a header element has the wrong number of bytes for its value type",
            detail_ja="ヘッダーの要素のバイト数が値の型と合いません",
        ) from exc
    except (
        EOFError,
        struct.error,
        zlib.error,
        NotImplementedError,  # an unknown VR
        ValueError,
        KeyError,
        IndexError,
        TypeError,
    ) as exc:
        raise load_error(
            path,
            LoadFailure.TRUNCATED,
            detail=f"the DICOM header cannot be parsed ({str(exc).rstrip('.')})",
        ) from exc
    if headerless and not any(
        elem.tag.group in (0x0008, 0x0010, 0x0020, 0x0028) and elem.keyword for elem in ds
    ):
        # force=True reads anything; insist on real image/patient attributes.
        raise load_error(
            path, LoadFailure.NOT_IMAGE, detail="No DICOM attributes could be read from it."
        )
    return ds


def _transfer_syntax(ds: Dataset) -> UID:
    file_meta = getattr(ds, "file_meta", None)  # absent when read with force=True
    syntax = file_meta.get("TransferSyntaxUID") if file_meta is not None else None
    if syntax:
        return UID(str(syntax))
    # No File Meta (or no Transfer Syntax in it): the encoding pydicom detected decides.
    implicit, little = ds.original_encoding
    if little is False:
        syntax = ExplicitVRBigEndian
    else:
        syntax = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds.ensure_file_meta()
    ds.file_meta.TransferSyntaxUID = syntax
    return syntax


def _decoder(path: Path, syntax: UID) -> Decoder:
    detail = f"{syntax.name} ({syntax})" if syntax.name != str(syntax) else str(syntax)
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError as exc:
        raise load_error(
            path,
            LoadFailure.UNSUPPORTED_SYNTAX,
            detail=detail,
            hint_ja=_NO_DECODER_JA,
            hint_en=_NO_DECODER_EN,
        ) from exc
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies)
        raise load_error(
            path,
            LoadFailure.UNSUPPORTED_SYNTAX,
            detail=detail,
            hint_ja=f"{_PLUGIN_HINT_JA}（{missing}）",
            hint_en=f"{_PLUGIN_HINT_EN} ({missing})",
        )
    return decoder
