"""What every DICOM object a report becomes shares: the patient and study it belongs to, the
character set, the report's title as a code, and how the file is encoded and read back.

The DICOM SR (``_dicom_sr``) and the Encapsulated PDF (``_dicom_pdf``) are filed in the source
image's study with the same Patient, General Study and Patient Study attributes; each then
adds its own series and content.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from jradi_desktop import __version__
from jradi_desktop.reports._document import ReportDocument
from jradi_desktop.reports._errors import export_error, incomplete_file, summary

CHARSET = "ISO_IR 192"  # UTF-8
MANUFACTURER = "JRadi Desktop"
Code = tuple[str, str, str]  # (value, scheme designator, meaning)
REPORT_TITLE: Code = ("18748-4", "LN", "Diagnostic Imaging Report")

# Patient, General Study and Patient Study attributes copied from a DICOM source.
_COPIED = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
    "StudyDescription",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
)
# Type 2 attributes of the Patient and General Study modules: present, maybe empty.
_TYPE_2 = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)


def code_item(code: Code) -> Dataset:
    """A code sequence item: (0008,0100) value, (0008,0102) scheme, (0008,0104) meaning."""
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code
    return item


def dicom_dt(value: datetime) -> str:
    """A DT value with microseconds and the UTC offset of ``value``."""
    return value.strftime("%Y%m%d%H%M%S.%f") + value.strftime("%z")


def is_verified(doc: ReportDocument) -> bool:
    """Marked VERIFIED: a physician checked it, and DICOM's verifier name and organization
    are both known."""
    return doc.verified and bool(doc.verified_by) and bool(doc.verifier_organization)


def _source_header(doc: ReportDocument) -> Dataset | None:
    """The source file's Patient/Study attributes, when it is still the DICOM it was."""
    path = doc.source_path
    if path is None or not doc.study_instance_uid or not path.is_file():
        return None
    try:
        header = pydicom.dcmread(
            path, stop_before_pixels=True, specific_tags=["SpecificCharacterSet", *_COPIED]
        )
        if str(header.get("StudyInstanceUID", "")) != doc.study_instance_uid:
            return None  # a different file now has this name
        for keyword in _COPIED:  # decode now, with the source's character set
            header.get(keyword)
    except Exception:  # the object is still valid with what the document carries
        return None
    return header


def new_instance(
    doc: ReportDocument,
    sop_class: str,
    series: tuple[str, int, str],
    now: datetime | None = None,
) -> tuple[Dataset, datetime]:
    """A new instance of ``sop_class`` in ``doc``'s study and a series of its own
    (``series``: modality, number, description), and the time its content was written.

    Set here, alike for the SR and the Encapsulated PDF: SOP Common (UTF-8, the instance
    creation time), the patient and study (:func:`_add_patient_and_study`), General Series,
    General Equipment, and the instance number and content date and time.
    """
    created = (now or datetime.now()).astimezone()
    content_time = (doc.edited_at or doc.generated_at or created).astimezone()
    modality, series_number, series_description = series
    ds = Dataset()
    ds.SpecificCharacterSet = CHARSET
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceCreationDate = created.strftime("%Y%m%d")
    ds.InstanceCreationTime = created.strftime("%H%M%S")
    ds.TimezoneOffsetFromUTC = created.strftime("%z")
    _add_patient_and_study(ds, doc)
    ds.Modality = modality
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_description
    ds.Manufacturer = MANUFACTURER
    ds.SoftwareVersions = __version__
    ds.InstanceNumber = 1
    ds.ContentDate = content_time.strftime("%Y%m%d")
    ds.ContentTime = content_time.strftime("%H%M%S")
    return ds, content_time


def _add_patient_and_study(ds: Dataset, doc: ReportDocument) -> None:
    """Fill ``ds``'s Patient, General Study and Patient Study attributes.

    They come from ``doc`` and, when ``doc.source_path`` is still the DICOM file with that
    Study Instance UID, the rest of its attributes (birth date, sex, accession number, ...).
    Without a Study Instance UID a new one is generated (a study of its own).
    """
    header = _source_header(doc)
    for keyword in _COPIED if header is not None else ():
        if keyword not in header:
            continue
        element = header[keyword]
        if element.value is None or element.value == "":
            continue
        value = str(element.value) if element.VR == "PN" else element.value
        ds.add_new(element.tag, element.VR, value)  # text is re-encoded as UTF-8 on writing
    overrides = {
        "PatientName": doc.patient_name,
        "PatientID": doc.patient_id,
        "StudyDate": doc.study_date,
        "StudyInstanceUID": doc.study_instance_uid or ds.get("StudyInstanceUID") or generate_uid(),
    }
    for keyword, value in overrides.items():
        if value:
            setattr(ds, keyword, value)
    for keyword in _TYPE_2:
        if keyword not in ds:
            setattr(ds, keyword, "")


def add_file_meta(ds: Dataset) -> None:
    """Part 10 file meta for ``ds`` (its SOP class and instance), explicit VR little endian."""
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian


def encode(ds: Dataset) -> bytes:
    """``ds`` as the bytes of a DICOM Part 10 file."""
    buffer = DicomBytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def encoded(ds: Dataset, path: str | os.PathLike[str]) -> bytes:
    """:func:`encode`, or the :class:`ReportExportError` for ``path`` in one line."""
    try:
        return encode(ds)
    except Exception as exc:  # pydicom's message carries a whole traceback: keep one line
        raise export_error(
            Path(path),
            f"DICOM として符号化できません（{summary(exc)}）",
            f"it cannot be encoded as DICOM ({summary(exc)})",
        ) from exc


def same_instance(sop_instance_uid: str) -> Callable[[Path], None]:
    """A verifier: pydicom reads the file back as the object with this SOP Instance UID, and
    encoding what it read gives the file's bytes again. (pydicom reads a file cut short
    without complaint, the last values just shorter, so reading alone proves little.)"""

    def verify(temp: Path) -> None:
        data = temp.read_bytes()
        try:
            found = pydicom.dcmread(DicomBytesIO(data))
            again = encode(found)
        except Exception as exc:  # a truncated or damaged file, whatever pydicom says
            raise incomplete_file(
                f"DICOM として読み直せません（{summary(exc)}）",
                f"it does not read back as DICOM ({summary(exc)})",
            ) from exc
        if str(found.get("SOPInstanceUID", "")) != sop_instance_uid:
            raise incomplete_file(
                "読み直した SOP Instance UID が一致しません",
                "the SOP Instance UID read back differs",
            )
        if again != data:
            raise incomplete_file(
                f"DICOM として読み直した内容が一致しません（{len(data)} バイト）",
                f"what pydicom reads back differs from the file ({len(data)} bytes)",
            )

    return verify
