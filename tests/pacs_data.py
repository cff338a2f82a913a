"""DICOM instances the PACS tests seed Orthanc with: small CRs in one study, and copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "chest_phantom.dcm"
CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_IMAGE = "1.2.840.10008.5.1.4.1.1.1.1"


def small_cr(path: Path, study_uid: str, series_uid: str, number: int, patient_id: str) -> Path:
    """A 16x16 16-bit CR, instance ``number`` of a study, with distinct pixels per number."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = CR_IMAGE
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.PatientID, ds.PatientName = patient_id, "Test^Many"
    ds.StudyDate, ds.Modality, ds.InstanceNumber = "20260402", "CR", number
    ds.StudyDescription = "CHEST 200"
    ds.Rows = ds.Columns = 16
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    pixels = (np.arange(256, dtype=np.uint16).reshape(16, 16) + number) % 4096
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def study_of_small_crs(folder: Path, count: int, patient_id: str) -> tuple[str, list[Path]]:
    """``count`` small CRs in one new study (one series), written to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    files = [small_cr(folder / f"{n}.dcm", study, series, n, patient_id) for n in range(count)]
    return study, files


def copy_of_sample(path: Path, patient_id: str, study_uid: str | None = None) -> Path:
    """The bundled sample CR with new UIDs (a new study unless given) and ``patient_id``."""
    ds = pydicom.dcmread(SAMPLE)
    ds.PatientID = patient_id
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(path, enforce_file_format=True)
    return path


def utf8_dx_copy(path: Path, patient_id: str, study_uid: str | None = None) -> Path:
    """A DX copy of the sample whose text is UTF-8 (ISO_IR 192), the kanji name included
    (Orthanc 1.10 answers it in ISO 2022 IR 87 with the kanji intact)."""
    ds = pydicom.dcmread(SAMPLE)
    ds.decode()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientID, ds.Modality = patient_id, "DX"
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = DX_IMAGE
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(path, enforce_file_format=True)
    return path
