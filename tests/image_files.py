"""Image files for the tests: DICOM files written here, pydicom's bundled ones, and the check
that an error names the file and its reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from jradi_desktop.errors import JRadiError
from jradi_desktop.imaging import ImageLoadError, LoadFailure, open_image

DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation


def write_dicom(
    path: Path,
    arr: np.ndarray | None,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    **attrs: object,
) -> Path:
    """A DX image of ``arr`` (new study, series and instance UIDs), then ``attrs`` set by
    keyword (they may replace any of those), saved as a DICOM file at ``path``. ``arr`` None:
    the pixel attributes and data come in ``attrs`` (pydicom sets 8 and 16 bits only)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = DX_STORAGE
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "DX"
    if arr is not None:
        ds.set_pixel_data(arr, photometric, bits_stored or arr.dtype.itemsize * 8)
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_japanese_dicom(path: Path, arr: np.ndarray, **attrs: object) -> Path:
    """:func:`write_dicom` with Japanese names: ISO 2022 IR 87 (JIS X 0208), its kanji checked
    to be escaped in the file."""
    path = write_dicom(path, arr, SpecificCharacterSet=["ISO 2022 IR 6", "ISO 2022 IR 87"], **attrs)
    assert b"\x1b$B" in path.read_bytes()  # the kanji really are ISO 2022 escaped
    return path


def bundled(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom test file {name} is not installed")
    return Path(path)


def assert_names_file(exc: ImageLoadError, path: Path, reason: LoadFailure) -> None:
    assert exc.reason is reason, exc
    assert str(path) in exc.message_ja
    assert str(path) in exc.message_en
    assert str(exc) == f"{exc.message_ja}\n{exc.message_en}"
    assert isinstance(exc, JRadiError)


def expect_error(path: Path, reason: LoadFailure, **kwargs: object) -> ImageLoadError:
    with pytest.raises(ImageLoadError) as info:
        open_image(path, **kwargs)
    assert_names_file(info.value, path, reason)
    return info.value


def save_png(path: Path, image: Image.Image) -> Path:
    image.save(path, format="PNG")
    return path
