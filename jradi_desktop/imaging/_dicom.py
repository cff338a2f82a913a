"""DICOM file -> :class:`XrayImage`, one frame, through pydicom's pixel-data decoders.

Order of checks, each before any work it protects: a deflated dataset declares and inflates
to a bounded size (pydicom inflates it whole); the file parses as DICOM; it has pixel data
(else: cut off, or complete without pixels); a decoder for its transfer syntax is installed;
the frame exists; rows x columns x frames is under the pixel limit; the native pixel data is
as long as the header says. Only then is the one frame decoded.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
from pydicom.datadict import dictionary_description
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.filereader import read_dataset, read_file_meta_info
from pydicom.pixels import apply_color_lut, convert_color_space, get_decoder
from pydicom.pixels.decoders.base import Decoder
from pydicom.pixels.utils import get_expected_length
from pydicom.tag import Tag
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from jradi_desktop.imaging import _dicom_meta as meta
from jradi_desktop.imaging._codestream import declared_size
from jradi_desktop.imaging._deflate import Inflated, inflate_bounded
from jradi_desktop.imaging._errors import (
    ImageLoadError,
    LoadFailure,
    bad_frame,
    check_pixel_limit,
    load_error,
)
from jradi_desktop.imaging._image import GREY, XrayImage, luma

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# Image Pixel module integers pydicom's decoders rely on: keyword -> (lowest, highest, the
# pixel data keywords that require it). An empty value counts as absent.
_PIXEL_ATTRIBUTES = {
    "Rows": (1, 0xFFFF, _PIXEL_KEYWORDS),
    "Columns": (1, 0xFFFF, _PIXEL_KEYWORDS),
    "NumberOfFrames": (0, 0x7FFFFFFF, ()),
    "SamplesPerPixel": (1, 4, _PIXEL_KEYWORDS),
    "BitsAllocated": (1, 64, _PIXEL_KEYWORDS),
    "BitsStored": (1, 64, ("PixelData",)),
    "PixelRepresentation": (0, 1, ("PixelData",)),
    "PlanarConfiguration": (0, 1, ()),
}
# Bytes a deflated dataset may inflate to, besides 8 per allowed pixel.
_DEFLATE_SLACK = 16 << 20
# Inflated bytes searched for Rows / Columns before the whole stream is inflated.
_DEFLATE_HEAD = 1 << 20

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
    inflated = None if headerless else _check_deflate(path, max_pixels)
    ds = _read_dataset(path, headerless)
    keyword = next((k for k in _PIXEL_KEYWORDS if k in ds), None)
    if keyword is None:
        size = inflated.size if inflated is not None else path.stat().st_size
        raise _no_pixels(path, ds, size)
    syntax = _transfer_syntax(ds)
    decoder = _decoder(path, syntax)
    frames = _check_geometry(path, ds, keyword, decoder, frame, max_pixels)

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
    image = _pixels_to_image(path, arr, ds, photometric, frame)
    _fill_metadata(image, ds, frame)
    image.frames, image.frame = frames, frame
    image.transfer_syntax_uid, image.transfer_syntax_name = str(syntax), syntax.name
    image.source = path
    return image


def _check_geometry(
    path: Path, ds: Dataset, keyword: str, decoder: Decoder, frame: int, max_pixels: int
) -> int:
    """Header values, frame index, pixel limit and data length, all before decoding; the
    frame count."""
    values = {name: _pixel_attribute(path, ds, name, keyword) for name in _PIXEL_ATTRIBUTES}
    if not meta.text(ds, "PhotometricInterpretation"):
        raise _bad_header(path, Tag("PhotometricInterpretation"), "is missing", "がありません")
    rows, columns = values["Rows"], values["Columns"]
    frames = values["NumberOfFrames"] or 1  # pydicom reads 0 as 1
    if not values["NumberOfFrames"] and "NumberOfFrames" in ds:
        del ds.NumberOfFrames  # empty or 0: one frame; an empty value would stop the decoders
    if not 0 <= frame < frames:
        raise bad_frame(path, frame, frames)
    check_pixel_limit(path, rows, columns, max_pixels, frames)
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
        if not ds[keyword].is_undefined_length:
            raise load_error(
                path,
                LoadFailure.DECODE_FAILED,
                detail=f"its Transfer Syntax UID says {decoder.UID.name}, a compressed syntax, "
                "but its pixel data is not encapsulated (not compressed)",
                detail_ja=f"転送構文は圧縮形式の {decoder.UID.name} ですが、画素データが"
                "カプセル化（圧縮）されていません",
            )
        _check_codestream(path, ds, frame, frames, max_pixels)
    return frames


def _pixel_attribute(path: Path, ds: Dataset, name: str, pixel_keyword: str) -> int:
    """The Image Pixel module integer ``name``, checked against its rule (pydicom's decoders
    assume it holds); 0 when an optional one is absent."""
    low, high, required_by = _PIXEL_ATTRIBUTES[name]
    try:
        value = ds.get(name)
    except Exception:  # a value pydicom cannot even convert
        value = "?"
    if value is None or value == "":
        if pixel_keyword not in required_by:
            return 0
        raise _bad_header(path, Tag(name), "is missing", "がありません")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # "1A", a list, NaN, infinity
        number = None
    if number is not None and low <= number <= high:
        return number
    raise _bad_header(
        path,
        Tag(name),
        f"is {str(value)[:40]!r}; it must be a whole number from {low} to {high}",
        f"の値 {str(value)[:40]!r} が不正です（{low}〜{high} の整数）",
    )


def _bad_header(path: Path, tag: int, rule_en: str, rule_ja: str) -> ImageLoadError:
    name = _tag_text(tag)
    return load_error(
        path,
        LoadFailure.TRUNCATED,
        detail=f"the header's {name} {rule_en}",
        detail_ja=f"ヘッダーの {name} {rule_ja}",
    )


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


def _no_pixels(path: Path, ds: Dataset, size: int) -> ImageLoadError:
    """TRUNCATED when the dataset (``size`` bytes) was cut off, NO_PIXELS when it is whole."""
    if len(ds) == 0:
        return load_error(
            path,
            LoadFailure.TRUNCATED,
            detail="nothing follows the File Meta Information",
            detail_ja="ファイルメタ情報の後にデータがありません",
        )
    cut = _cut_off(ds, size)
    if cut is not None:
        return load_error(path, LoadFailure.TRUNCATED, detail=cut[0], detail_ja=cut[1])
    sop = _sop_class(ds)
    return load_error(path, LoadFailure.NO_PIXELS, detail=f"SOP Class: {sop.name or 'unknown'}")


def _cut_off(ds: Dataset, size: int) -> tuple[str, str] | None:
    """Where a dataset without pixel data was cut off (English, Japanese), None if it is whole.

    pydicom stops quietly at the end of a cut-off file, so the bytes decide: the last element
    must end exactly where the dataset's ``size`` bytes do (offsets are pydicom's: in the file,
    or in the inflated stream of a deflated one), and a dataset ending on an element boundary
    is cut when it stops before an attribute every object has (SOP Class UID) or every image
    has (Rows).
    """
    last_tag = max(ds.keys())
    last = ds.get_item(last_tag)  # raw: nothing converted yet
    name = _tag_text(last_tag)
    if isinstance(last, RawDataElement) and last.value_tell is not None:
        length = last.length
        if length == 0xFFFFFFFF:  # undefined length: the value, then an 8-byte delimiter
            length = len(last.value or b"") + 8
        end = last.value_tell + length
        if end > size:
            return (
                f"the file ends inside {name}, before any pixel data",
                f"{name} の途中でファイルが終わっています（画素データより前）",
            )
        if end < size:  # fewer than 8 bytes left: part of the next element's header
            return (
                f"the file ends inside the element that follows {name}",
                f"{name} の次の要素の途中でファイルが終わっています",
            )
    needed = [Tag(0x0008, 0x0016)]  # SOP Class UID: Type 1 in every object
    if "Image Storage" in _sop_class(ds).name:
        needed.append(Tag(0x0028, 0x0010))  # Rows: Type 1 in every image
    for tag in needed:
        if tag not in ds and last_tag < tag:
            return (
                f"the file ends after {name}, before {_tag_text(tag)}",
                f"{name} の後、{_tag_text(tag)} の前でファイルが終わっています",
            )
    return None


def _sop_class(ds: Dataset) -> UID:
    file_meta = getattr(ds, "file_meta", None) or Dataset()
    return UID(meta.text(ds, "SOPClassUID") or meta.text(file_meta, "MediaStorageSOPClassUID"))


def _tag_text(tag: int) -> str:
    tag = Tag(tag)
    try:
        name = dictionary_description(tag)
    except KeyError:  # private or unknown
        name = ""
    return f"({tag.group:04X},{tag.element:04X}) {name}".strip()


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


def _check_deflate(path: Path, max_pixels: int) -> Inflated | None:
    """Refuse a Deflated dataset whose header declares too many pixels, or that inflates past
    the limit (pydicom inflates it whole); what it inflates to, None when not deflated."""
    try:
        file_meta = read_file_meta_info(path)
        if file_meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
            return None
        start = 128 + 4 + 12 + int(file_meta["FileMetaInformationGroupLength"].value)
    except Exception:
        return None  # dcmread reports what is wrong with the header
    limit = max_pixels * 8 + _DEFLATE_SLACK
    with path.open("rb") as fh:
        fh.seek(start)
        head = inflate_bounded(fh, _DEFLATE_HEAD, head=_DEFLATE_HEAD).head
        geometry = _declared_geometry(head)
        if geometry is not None:  # the header's claim, refused before inflating the rest
            rows, columns, frames = geometry
            check_pixel_limit(path, rows, columns, max_pixels, frames)
        fh.seek(start)
        inflated = inflate_bounded(fh, limit)
    if inflated.size > limit:
        raise load_error(
            path,
            LoadFailure.TOO_LARGE,
            detail=f"a deflated dataset inflating to over {limit:,} bytes",
            detail_ja=f"展開後 {limit:,} バイトを超える圧縮データセット",
            limit=max_pixels,
        )
    return inflated


def _declared_geometry(head: bytes) -> tuple[int, int, int] | None:
    """(rows, columns, frames) from the first inflated bytes of a deflated dataset."""
    try:
        ds = read_dataset(
            io.BytesIO(head),
            is_implicit_VR=False,
            is_little_endian=True,
            stop_when=lambda tag, vr, length: tag > 0x00280011,  # after (0028,0011) Columns
            specific_tags=[0x00280008, 0x00280010, 0x00280011],
        )
        rows, columns = int(ds["Rows"].value), int(ds["Columns"].value)
    except Exception:
        return None  # not there, or not readable: the full check decides
    return rows, columns, meta.number_of_frames(ds)


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
