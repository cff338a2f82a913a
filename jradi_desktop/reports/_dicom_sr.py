"""DICOM Basic Text SR export: the report as a Structured Report a PACS files with the image.

The content tree follows TID 2000 "Basic Diagnostic Imaging Report": a root CONTAINER
(18748-4, LN, "Diagnostic Imaging Report") with the language (Japanese), the observer (the AI
model, as a device) and one section CONTAINER per heading of CID 7001 holding a TEXT item of
CID 7002 -- (55752-0, LN, "Clinical Information"), (59776-5, LN, "Findings") with
(121071, DCM, "Finding"), (19005-8, LN, "Impressions") with (121073, DCM, "Impression").
The document's warnings (an image that may not be a chest radiograph) open the Findings
section as (121106, DCM, "Comment") items, Japanese and English, so they travel with it.
The source image is referenced in Current Requested Procedure Evidence Sequence (PS3.3
C.17.2: the instances the report was made from), text is UTF-8 (ISO_IR 192).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from jradi_desktop.reports._atomic import write_bytes_atomic
from jradi_desktop.reports._dicom_common import (
    REPORT_TITLE,
    Code,
    add_file_meta,
    code_item,
    dicom_dt,
    encoded,
    is_verified,
    new_instance,
    same_instance,
)
from jradi_desktop.reports._document import ReportDocument

BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
SERIES_NUMBER = 9001

# (document field, section heading, TEXT concept), in document order.
SECTION_CODES: tuple[tuple[str, Code, Code], ...] = (
    ("indication", ("55752-0", "LN", "Clinical Information"), ("11329-0", "LN", "History")),
    ("findings", ("59776-5", "LN", "Findings"), ("121071", "DCM", "Finding")),
    ("impression", ("19005-8", "LN", "Impressions"), ("121073", "DCM", "Impression")),
)
_COMMENT: Code = ("121106", "DCM", "Comment")
_LANGUAGE: Code = ("121049", "DCM", "Language of Content Item and Descendants")
_JAPANESE: Code = ("ja", "RFC5646", "Japanese")
_OBSERVER_TYPE: Code = ("121005", "DCM", "Observer Type")
_DEVICE: Code = ("121007", "DCM", "Device")
_DEVICE_UID: Code = ("121012", "DCM", "Device Observer UID")
_DEVICE_NAME: Code = ("121013", "DCM", "Device Observer Name")
_DEVICE_MODEL: Code = ("121015", "DCM", "Device Observer Model Name")


def _content(relationship: str, value_type: str, concept: Code) -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = value_type
    item.ConceptNameCodeSequence = Sequence([code_item(concept)])
    return item


def _text(relationship: str, concept: Code, text: str) -> Dataset:
    item = _content(relationship, "TEXT", concept)
    # DICOM text ends lines with CR LF (PS3.5 6.1.3).
    item.TextValue = "\r\n".join(text.splitlines())
    return item


def _evidence(doc: ReportDocument) -> Dataset:
    sop = Dataset()
    sop.ReferencedSOPClassUID = doc.sop_class_uid
    sop.ReferencedSOPInstanceUID = doc.sop_instance_uid
    series = Dataset()
    series.SeriesInstanceUID = doc.series_instance_uid
    series.ReferencedSOPSequence = Sequence([sop])
    study = Dataset()
    study.StudyInstanceUID = doc.study_instance_uid
    study.ReferencedSeriesSequence = Sequence([series])
    return study


def _observer(doc: ReportDocument) -> list[Dataset]:
    """TID 1004: the AI model as a device observer (its UID derived from the model name)."""
    observer_type = _content("HAS OBS CONTEXT", "CODE", _OBSERVER_TYPE)
    observer_type.ConceptCodeSequence = Sequence([code_item(_DEVICE)])
    uid = _content("HAS OBS CONTEXT", "UIDREF", _DEVICE_UID)
    uid.UID = generate_uid(entropy_srcs=["JRadi Desktop", doc.model_name])
    items = [observer_type, uid, _text("HAS OBS CONTEXT", _DEVICE_NAME, "JRadi Desktop")]
    if doc.model_name:
        items.append(_text("HAS OBS CONTEXT", _DEVICE_MODEL, doc.model_name))
    return items


def _content_tree(sr: Dataset, doc: ReportDocument) -> None:
    sr.ValueType = "CONTAINER"
    sr.ConceptNameCodeSequence = Sequence([code_item(REPORT_TITLE)])
    sr.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource = "DCMR"
    template.TemplateIdentifier = "2000"
    sr.ContentTemplateSequence = Sequence([template])
    language = _content("HAS CONCEPT MOD", "CODE", _LANGUAGE)
    language.ConceptCodeSequence = Sequence([code_item(_JAPANESE)])
    items = [language, *_observer(doc)]
    for key, heading, concept in SECTION_CODES:
        text = doc.section_text(key)
        texts = [_text("CONTAINS", concept, text)] if text else []
        if key == "findings":
            notes = [f"{note.ja}\n{note.en}" for note in doc.warnings]
            texts = [_text("CONTAINS", _COMMENT, note) for note in notes] + texts
        if not texts:
            continue
        section = _content("CONTAINS", "CONTAINER", heading)
        section.ContinuityOfContent = "SEPARATE"
        section.ContentSequence = Sequence(texts)
        items.append(section)
    sr.ContentSequence = Sequence(items)


def build_dicom_sr(doc: ReportDocument, *, now: datetime | None = None) -> Dataset:
    """The Basic Text SR dataset for ``doc`` (with file meta), ready to save.

    Patient and study attributes come from ``doc`` and, when ``doc.source_path`` is still
    the DICOM file with that Study Instance UID, the rest of its Patient/General Study
    attributes (birth date, sex, accession number, ...). The SR joins the source's study
    (same Study Instance UID) in a new series. Without source UIDs (PNG/JPEG) a new Study
    Instance UID is generated, so the SR forms a study of its own and references no image.
    The SR is COMPLETE/VERIFIED only when ``doc.verified`` with ``verified_by`` and
    ``verifier_organization`` (DICOM requires both); otherwise PARTIAL/UNVERIFIED.
    """
    verified = is_verified(doc)
    series = ("SR", SERIES_NUMBER, "AI レポート下書き (JRadi)")
    sr, content_time = new_instance(doc, BASIC_TEXT_SR, series, now)
    sr.ReferencedPerformedProcedureStepSequence = Sequence()
    sr.PreliminaryFlag = "FINAL" if verified else "PRELIMINARY"
    sr.CompletionFlag = "COMPLETE" if verified else "PARTIAL"
    sr.CompletionFlagDescription = "医師確認済み" if verified else "AI 下書き（医師の確認前）"
    sr.VerificationFlag = "VERIFIED" if verified else "UNVERIFIED"
    if verified:
        observer = Dataset()
        observer.VerifyingObserverName = doc.verified_by
        observer.VerifyingObserverIdentificationCodeSequence = Sequence()
        observer.VerifyingOrganization = doc.verifier_organization.replace("\\", "/")[:64]
        observer.VerificationDateTime = dicom_dt(content_time)
        sr.VerifyingObserverSequence = Sequence([observer])
    sr.PerformedProcedureCodeSequence = Sequence()
    if doc.has_source_instance:
        sr.CurrentRequestedProcedureEvidenceSequence = Sequence([_evidence(doc)])
    _content_tree(sr, doc)

    add_file_meta(sr)
    return sr


def write_dicom_sr(doc: ReportDocument, path: str | os.PathLike[str]) -> Path:
    """Write ``doc`` as a DICOM Basic Text SR file at ``path`` (atomically).

    See :func:`build_dicom_sr` for what goes in; without source UIDs (PNG/JPEG) the SR gets
    a new Study Instance UID. The file is encoded in memory, written, then read back (the same
    bytes, and pydicom finds the SR's SOP Instance UID) before it replaces ``path``. Raises
    :class:`ReportExportError` naming ``path`` on failure.
    """
    sr = build_dicom_sr(doc)
    data = encoded(sr, path)
    return write_bytes_atomic(path, data, verify=same_instance(str(sr.SOPInstanceUID)))
