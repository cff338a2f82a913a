"""What a DICOM dataset must pass before one frame is decoded, and why one has no pixels.

Each check refuses early what would make pydicom's decoders fail badly or allocate too much:
a deflated dataset's declared and inflated size, the Image Pixel module's integers, the frame
index, the pixel limit, the native pixel data's length and a compressed frame's own header.
"""

from __future__ import annotations

import io
from pathlib import Path

from pydicom.datadict import dictionary_description
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.filereader import read_dataset, read_file_meta_info
from pydicom.pixels.decoders.base import Decoder
from pydicom.pixels.utils import get_expected_length
from pydicom.tag import Tag
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

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

PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# Image Pixel module integers pydicom's decoders rely on: keyword -> (lowest, highest, the
# pixel data keywords that require it). An empty value counts as absent.
_PIXEL_ATTRIBUTES = {
    "Rows": (1, 0xFFFF, PIXEL_KEYWORDS),
    "Columns": (1, 0xFFFF, PIXEL_KEYWORDS),
    "NumberOfFrames": (0, 0x7FFFFFFF, ()),
    "SamplesPerPixel": (1, 4, PIXEL_KEYWORDS),
    "BitsAllocated": (1, 64, PIXEL_KEYWORDS),
    "BitsStored": (1, 64, ("PixelData",)),
    "PixelRepresentation": (0, 1, ("PixelData",)),
    "PlanarConfiguration": (0, 1, ()),
}
# Bytes a deflated dataset may inflate to, besides 8 per allowed pixel.
_DEFLATE_SLACK = 16 << 20
# Inflated bytes searched for Rows / Columns before the whole stream is inflated.
_DEFLATE_HEAD = 1 << 20


def check_geometry(
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


def no_pixels(path: Path, ds: Dataset, size: int) -> ImageLoadError:
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


def check_deflate(path: Path, max_pixels: int) -> Inflated | None:
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
