"""DICOM Encapsulated PDF export: the report's PDF as an object a PACS files with the image.

Encapsulated PDF IOD (PS3.3 A.45.1), SOP Class 1.2.840.10008.5.1.4.1.1.104.1: the Patient,
General Study and Patient Study modules as the SR has them (the source image's study), an
Encapsulated Document Series of its own (Modality DOC), General and SC Equipment, and the
Encapsulated Document module (C.24.2): the PDF's bytes in (0042,0011), padded to an even
length with one 0x00 as OB requires, their unpadded count in (0042,0015), the MIME type
``application/pdf``, the report's title, the same concept name as the SR's root
(18748-4, LN, "Diagnostic Imaging Report"), and the source image in Source Instance Sequence
(the instances the document was derived from). The PDF itself is written by the app
(``jradi_desktop.ui.pdf_export``: it needs Qt); this module only wraps its bytes.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from jradi_desktop.reports._atomic import write_bytes_atomic
from jradi_desktop.reports._dicom_common import (
    REPORT_TITLE,
    add_file_meta,
    code_item,
    dicom_dt,
    encoded,
    is_verified,
    new_instance,
    same_instance,
)
from jradi_desktop.reports._document import TITLE_JA, ReportDocument
from jradi_desktop.reports._errors import ReportExportError, export_error, summary

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
PDF_MIME_TYPE = "application/pdf"
PDF_SERIES_NUMBER = 9002  # the SR's series is 9001


def _require_source(doc: ReportDocument) -> None:
    if not doc.has_source_instance:
        source = doc.source_path.name if doc.source_path else "-"
        raise ReportExportError(
            f"{source}: DICOM 画像ではないため、PDF を DICOM（Encapsulated PDF）にできません"
            "（登録先の検査がありません）。",
            f"{source}: not a DICOM image, so the PDF cannot become DICOM (Encapsulated PDF): "
            "there is no study to file it in.",
        )


def _source_instance(doc: ReportDocument) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = doc.sop_class_uid
    item.ReferencedSOPInstanceUID = doc.sop_instance_uid
    return item


def build_encapsulated_pdf(
    doc: ReportDocument, pdf_bytes: bytes, *, now: datetime | None = None
) -> Dataset:
    """The Encapsulated PDF dataset (with file meta) holding ``pdf_bytes``, ready to save.

    It joins the study of ``doc``'s source image (its Patient and Study attributes as the SR
    gets them) in a new series. ``doc`` must come from a DICOM image
    (``doc.has_source_instance``): an Encapsulated PDF in a study of its own would be filed
    under nobody's image, so it is refused with :class:`ReportExportError`, as are bytes that
    are not a PDF.
    """
    _require_source(doc)
    if not pdf_bytes.startswith(b"%PDF-"):
        raise ReportExportError(
            "PDF ではありません（先頭が %PDF- ではありません）。",
            "this is not a PDF (it does not start with %PDF-).",
        )
    series = ("DOC", PDF_SERIES_NUMBER, "AI レポート下書き PDF (JRadi)")
    ds, content_time = new_instance(doc, ENCAPSULATED_PDF, series, now)
    ds.ConversionType = "WSD"  # SC Equipment: made on a workstation
    ds.AcquisitionDateTime = dicom_dt(content_time)
    ds.BurnedInAnnotation = "YES"  # the PDF shows the patient's name and ID
    ds.DocumentTitle = TITLE_JA
    ds.ConceptNameCodeSequence = Sequence([code_item(REPORT_TITLE)])
    ds.VerificationFlag = "VERIFIED" if is_verified(doc) else "UNVERIFIED"
    ds.SourceInstanceSequence = Sequence([_source_instance(doc)])
    ds.MIMETypeOfEncapsulatedDocument = PDF_MIME_TYPE
    ds.EncapsulatedDocumentLength = len(pdf_bytes)
    padding = b"\x00" if len(pdf_bytes) % 2 else b""
    ds.EncapsulatedDocument = pdf_bytes + padding
    add_file_meta(ds)
    return ds


def write_encapsulated_pdf(
    doc: ReportDocument, pdf_path: str | os.PathLike[str], path: str | os.PathLike[str]
) -> Path:
    """Write the PDF at ``pdf_path`` as a DICOM Encapsulated PDF file at ``path`` (atomically).

    See :func:`build_encapsulated_pdf` for what goes in. The file is encoded in memory,
    written, then read back (the same bytes, and pydicom finds its SOP Instance UID) before it
    replaces ``path``. Raises :class:`ReportExportError` naming ``path`` on failure, or
    naming the source image when it is not DICOM.
    """
    _require_source(doc)
    try:
        pdf_bytes = Path(pdf_path).read_bytes()
    except OSError as exc:
        raise export_error(
            Path(path), f"PDF「{pdf_path}」を読めません（{summary(exc)}）",
            f'cannot read the PDF "{pdf_path}" ({summary(exc)})',
        ) from exc  # fmt: skip
    ds = build_encapsulated_pdf(doc, pdf_bytes)
    data = encoded(ds, path)
    return write_bytes_atomic(path, data, verify=same_instance(str(ds.SOPInstanceUID)))
