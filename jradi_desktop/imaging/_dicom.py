"""DICOM file -> :class:`XrayImage`, one frame, through pydicom's pixel-data decoders.

Order of checks, each before any work it protects: the file parses as DICOM; it has pixel
data; a decoder for its transfer syntax is installed; the frame exists; rows x columns x
frames is under the pixel limit (and a deflated dataset inflates to a bounded size); the
native pixel data is as long as the header says. Only then is the one frame decoded.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info
from pydicom.pixels import apply_color_lut, convert_color_space, get_decoder
from pydicom.pixels.decoders.base import Decoder
from pydicom.pixels.utils import get_expected_length
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from jradi_desktop.imaging import _dicom_meta as meta
from jradi_desktop.imaging._codestream import declared_size
from jradi_desktop.imaging._errors import ImageLoadError, LoadFailure, load_error
from jradi_desktop.imaging._image import GREY, XrayImage, luma

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# Bytes a deflated dataset may inflate to, besides 8 per allowed pixel.
_DEFLATE_SLACK = 16 << 20

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
    if not headerless:
        _check_deflate(path, max_pixels)
    ds = _read_dataset(path, headerless)
    keyword = next((k for k in _PIXEL_KEYWORDS if k in ds), None)
    if keyword is None:
        raise _no_pixels(path, ds)
    syntax = _transfer_syntax(ds)
    decoder = _decoder(path, syntax)
    frames = _check_geometry(path, ds, keyword, decoder, frame, max_pixels)

    try:
        arr, props = decoder.as_array(ds, index=frame)
    except MemoryError:
        raise
    except Exception as exc:
        raise load_error(path, LoadFailure.DECODE_FAILED, detail=f"{syntax.name}: {exc}") from exc
    photometric = (
        str(
            props.get("photometric_interpretation")
            or ds.get("PhotometricInterpretation", "MONOCHROME2")
        )
        .strip()
        .upper()
    )
    image = _pixels_to_image(path, arr, ds, photometric, frame)
    _fill_metadata(image, ds, frame)
    image.frames, image.frame = frames, frame
    image.transfer_syntax_uid, image.transfer_syntax_name = str(syntax), syntax.name
    image.source = path
    return image


def _check_geometry(
    path: Path, ds: Dataset, keyword: str, decoder: Decoder, frame: int, max_pixels: int
) -> int:
    """Frame index, pixel limit and data length, all before decoding; the frame count."""
    rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
    frames = meta.number_of_frames(ds)
    if rows <= 0 or columns <= 0:
        raise load_error(
            path,
            LoadFailure.TRUNCATED,
            detail=f"(0028,0010) Rows / (0028,0011) Columns missing or 0 ({rows} x {columns})",
        )
    if not 0 <= frame < frames:
        raise load_error(path, LoadFailure.BAD_FRAME, frame=frame, frames=frames)
    total = rows * columns * frames
    if total > max_pixels:
        raise load_error(
            path,
            LoadFailure.TOO_LARGE,
            detail=f"{rows} x {columns} x {frames} frame(s) = {total:,} pixels",
            detail_ja=f"{rows}×{columns}×{frames} フレーム＝{total:,} 画素",
            limit=max_pixels,
        )
    if decoder.is_native and keyword == "PixelData":
        expected = get_expected_length(ds, "bytes")
        actual = len(ds.PixelData)
        if actual < expected:
            raise load_error(
                path,
                LoadFailure.TRUNCATED,
                detail=f"pixel data has {actual:,} of the {expected:,} bytes the header "
                f"({rows} x {columns} x {frames} frame(s)) requires",
                detail_ja=f"画素データが {actual:,} バイトしかありません"
                f"（ヘッダー {rows}×{columns}×{frames} フレームでは {expected:,} バイト必要）",
            )
    elif not decoder.is_native:
        _check_codestream(path, ds, frame, frames, max_pixels)
    return frames


def _read_dataset(path: Path, headerless: bool) -> Dataset:
    try:
        ds = pydicom.dcmread(path, force=headerless)
    except InvalidDicomError as exc:
        raise load_error(path, LoadFailure.NOT_IMAGE, detail=str(exc)) from exc
    except (EOFError, struct.error, ValueError, KeyError, IndexError, TypeError) as exc:
        raise load_error(
            path, LoadFailure.TRUNCATED, detail=f"the DICOM header cannot be parsed ({exc})"
        ) from exc
    if headerless and not any(
        elem.tag.group in (0x0008, 0x0010, 0x0020, 0x0028) and elem.keyword for elem in ds
    ):
        # force=True reads anything; insist on real image/patient attributes.
        raise load_error(
            path, LoadFailure.NOT_IMAGE, detail="No DICOM attributes could be read from it."
        )
    return ds


def _no_pixels(path: Path, ds: Dataset) -> ImageLoadError:
    sop = UID(meta.text(ds, "SOPClassUID") or meta.text(ds, "MediaStorageSOPClassUID"))
    if len(ds) == 0:
        return load_error(
            path,
            LoadFailure.TRUNCATED,
            detail="nothing follows the File Meta Information",
            detail_ja="ファイルメタ情報の後にデータがありません",
        )
    if "Rows" in ds or "Image Storage" in sop.name:
        # An image object without its pixels: pydicom stops quietly at a cut-off file.
        return load_error(
            path,
            LoadFailure.TRUNCATED,
            detail=f"the file ends before the pixel data of its image ({sop.name or 'image'})",
            detail_ja=f"画像（{sop.name or 'image'}）の画素データの前でファイルが終わっています",
        )
    what = f"SOP Class: {sop.name}" if sop else "no (7FE0,0010) Pixel Data element"
    return load_error(path, LoadFailure.NO_PIXELS, detail=what)


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


def _check_codestream(path: Path, ds: Dataset, frame: int, frames: int, max_pixels: int) -> None:
    """Refuse a compressed frame whose own header claims more pixels than allowed."""
    try:
        data = get_frame(ds.PixelData, frame, number_of_frames=frames)
    except Exception:
        return  # the decoder reports what is wrong with the encapsulation
    size = declared_size(bytes(data[: 1 << 16]))
    if size is not None and size[0] * size[1] > max_pixels:
        total = size[0] * size[1]
        raise load_error(
            path,
            LoadFailure.TOO_LARGE,
            detail=f"a compressed frame declaring {size[0]} x {size[1]} = {total:,} pixels",
            detail_ja=f"圧縮フレームの宣言サイズ {size[0]}×{size[1]}＝{total:,} 画素",
            limit=max_pixels,
        )


def _check_deflate(path: Path, max_pixels: int) -> None:
    """Refuse a Deflated dataset that inflates past the limit (pydicom inflates it whole)."""
    try:
        file_meta = read_file_meta_info(path)
    except Exception:
        return  # dcmread reports what is wrong with the header
    if file_meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
        return
    group_length = file_meta.get("FileMetaInformationGroupLength")
    if group_length is None:
        return
    limit = max_pixels * 8 + _DEFLATE_SLACK
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    inflated = 0
    with path.open("rb") as fh:
        fh.seek(128 + 4 + 12 + int(group_length))
        while chunk := fh.read(1 << 20):
            while chunk:
                try:
                    inflated += len(inflater.decompress(chunk, 1 << 22))
                except zlib.error:
                    return  # let pydicom report the corrupt stream
                chunk = inflater.unconsumed_tail
                if inflated > limit:
                    raise load_error(
                        path,
                        LoadFailure.TOO_LARGE,
                        detail=f"a deflated dataset inflating to over {limit:,} bytes",
                        detail_ja=f"展開後 {limit:,} バイトを超える圧縮データセット",
                        limit=max_pixels,
                    )


def _pixels_to_image(
    path: Path, arr: np.ndarray, ds: Dataset, photometric: str, frame: int
) -> XrayImage:
    bits_stored = int(ds.get("BitsStored") or arr.dtype.itemsize * 8)
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(arr, ds)
        rgb = _to_uint8(rgb, 16 if rgb.dtype.itemsize > 1 else 8)
        return _colour_image(rgb, bits_stored)
    if arr.ndim == 3 and arr.shape[-1] >= 3:
        if photometric in ("YBR_FULL", "YBR_FULL_422"):
            arr = convert_color_space(arr, photometric, "RGB")
        elif photometric not in ("RGB", "YBR_RCT", "YBR_ICT"):
            raise load_error(
                path,
                LoadFailure.DECODE_FAILED,
                detail=f"colour photometric interpretation {photometric!r} is not supported",
            )
        return _colour_image(_to_uint8(arr[..., :3], bits_stored), bits_stored)
    if arr.ndim != 2:
        raise load_error(
            path, LoadFailure.DECODE_FAILED, detail=f"unexpected pixel array shape {arr.shape}"
        )
    pixels = meta.modality_lut(arr, ds, frame)
    return XrayImage(
        pixels=pixels,
        photometric=photometric if photometric in GREY else "MONOCHROME2",
        windows=meta.windows(ds, frame),
        voi_luts=meta.voi_luts(ds),
        voi_lut_function=meta.voi_lut_function(ds, frame),
        bits_stored=bits_stored,
    )


def _to_uint8(arr: np.ndarray, bits: int) -> np.ndarray:
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    shift = max(bits - 8, 0)
    arr = np.clip(arr, 0, None) if arr.dtype.kind != "u" else arr
    return np.ascontiguousarray(np.clip(arr >> shift if shift else arr, 0, 255).astype(np.uint8))


def _colour_image(rgb: np.ndarray, bits_stored: int) -> XrayImage:
    return XrayImage(
        pixels=luma(rgb), photometric="RGB", rgb=rgb, bits_stored=bits_stored, display_ready=True
    )


def _fill_metadata(image: XrayImage, ds: Dataset, frame: int) -> None:
    image.file_format = "DICOM"
    image.modality = meta.text(ds, "Modality")
    image.view_position = meta.text(ds, "ViewPosition")
    image.body_part = meta.text(ds, "BodyPartExamined")
    image.study_date = meta.text(ds, "StudyDate")
    image.patient_name = meta.text(ds, "PatientName")
    image.patient_id = meta.text(ds, "PatientID")
    image.specific_character_set = meta.character_set(ds)
    image.pixel_spacing = meta.pixel_spacing(ds, frame)
    image.presentation_lut_shape = meta.text(ds, "PresentationLUTShape").upper()
    image.study_instance_uid = meta.text(ds, "StudyInstanceUID")
    image.series_instance_uid = meta.text(ds, "SeriesInstanceUID")
    image.sop_instance_uid = meta.text(ds, "SOPInstanceUID")
    image.sop_class_uid = meta.text(ds, "SOPClassUID")
