"""Write the bundled sample: a synthetic PA chest radiograph as a DICOM file.

    .venv/bin/python tools/make_sample.py

No patient data exists in this repository; the sample is drawn from shapes (lungs, heart,
mediastinum, ribs, clavicles, spine, diaphragm, soft tissue), blurred and with noise, stored
as 12-bit MONOCHROME2 CR with a Japanese (ISO 2022 IR 87) test patient name. Deterministic.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from scipy.ndimage import gaussian_filter

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "resources" / "samples" / "chest_phantom.dcm"
SIZE = 1024


def chest(size: int = SIZE, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    shoulders = ((x - 0.5) / 0.5) ** 2 + ((y - 0.62) / 0.58) ** 2 < 1
    neck = (np.abs(x - 0.5) < 0.09) & (y < 0.2)
    body = shoulders | neck
    att = np.where(body, 0.55, 0.0).astype(np.float32)  # soft tissue
    cx = np.where(x < 0.5, 0.31, 0.69)
    dome = 0.76 + 1.6 * (x - cx) ** 2 - np.where(x >= 0.5, 0.025, 0.0)  # right dome higher
    for side, centre in ((-1, 0.31), (1, 0.69)):
        lung = ((x - centre) / 0.16) ** 2 + ((y - 0.48) / 0.33) ** 2 < 1
        lung &= y < dome
        if side > 0:  # the heart takes part of the left lung (image right)
            lung &= ((x - 0.56) / 0.14) ** 2 + ((y - 0.66) / 0.13) ** 2 > 1
        att -= 0.36 * gaussian_filter(lung.astype(np.float32), 4)
        for k in range(10):  # posterior ribs: arcs across each hemithorax
            cy = 0.2 + 0.056 * k
            arc = np.abs(y - (cy + 0.05 * ((x - centre) * side / 0.16 + 0.2) ** 2)) < 0.007
            att += 0.14 * (arc & (np.abs(x - centre) < 0.19) & body)
        clav = np.abs(y - (0.19 - 0.09 * (x - 0.5) * side)) < 0.008
        att += 0.2 * (clav & (np.abs(x - 0.5) < 0.3) & (np.abs(x - 0.5) > 0.03))
    abdomen = body & (y >= dome)
    att += 0.12 * gaussian_filter(abdomen.astype(np.float32), 3)
    heart = ((x - 0.56) / 0.14) ** 2 + ((y - 0.66) / 0.13) ** 2 < 1
    mediastinum = (np.abs(x - 0.5) < 0.05) & (y > 0.12) & (y < 0.7)
    att = np.maximum(att, 0.48 * (heart | mediastinum) + 0.05)
    spine = (np.abs(x - 0.5) < 0.024) & (y > 0.03)
    att += 0.16 * spine
    for k in range(16):  # vertebral end plates
        att += 0.05 * (spine & (np.abs(y - (0.06 + 0.058 * k)) < 0.004))
    vessels = gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), 5)
    hilum = np.exp(-(((np.abs(x - 0.5) - 0.1) / 0.12) ** 2 + ((y - 0.5) / 0.15) ** 2))
    att += (0.06 + 0.1 * hilum) * np.abs(vessels) * 8 * (att < 0.3) * body
    att = gaussian_filter(att, 2.0) + 0.008 * rng.standard_normal((size, size))
    pixels = np.clip(att, 0, None) / max(float(att.max()), 1e-6) * 3600 + 200
    return pixels.astype(np.uint16)


def write(path: Path = OUT, size: int = SIZE) -> Path:
    """The phantom, ``size`` x ``size``, as a DICOM file at ``path``."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # CR Image Storage
    meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1234.1.3"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SpecificCharacterSet = ["ISO 2022 IR 6", "ISO 2022 IR 87"]
    ds.PatientName = "Shiken^Hanako=試験^花子=しけん^はなこ"
    ds.PatientID = "JRADI-SAMPLE-0001"
    ds.PatientSex = "F"
    ds.StudyDate = "20260401"
    ds.StudyTime = "093000"
    ds.Modality = "CR"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.1234.1.1"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1234.1.2"
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.StudyDescription = "胸部単純X線（合成サンプル・患者データではありません）"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [0.35, 0.35]
    ds.WindowCenter = 2000
    ds.WindowWidth = 3600
    ds.PixelData = chest(size).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


if __name__ == "__main__":
    print(write())
    pydicom.dcmread(OUT)
    sys.exit(0)
