"""A decoded DICOM frame -> :class:`XrayImage`: colour conversion, modality LUT, metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, convert_color_space

from jradi_desktop.imaging import _dicom_meta as meta
from jradi_desktop.imaging._errors import LoadFailure, load_error
from jradi_desktop.imaging._image import GREY, XrayImage, luma


def pixels_to_image(
    path: Path, arr: np.ndarray, ds: Dataset, photometric: str, frame: int
) -> XrayImage:
    """The decoded ``frame`` as an image: colour to 8-bit RGB (palette and YBR converted),
    greyscale through the Modality LUT with its windows and VOI LUTs."""
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


def fill_metadata(image: XrayImage, ds: Dataset, frame: int) -> None:
    """Copy the patient, study and instance attributes of ``ds`` onto ``image``."""
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
