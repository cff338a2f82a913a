"""The report's PDF to the PACS as DICOM Encapsulated PDF, next to its SR: the object checked
against PS3.3 (A.45.1 Encapsulated PDF IOD, C.24.2 Encapsulated Document module), and
``jradi report … --send-sr NAME --send-pdf`` into a real Orthanc, read back over its REST API.
The app's 「PDF も送る」 is tested in ``test_pacs_app.py``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from orthanc_server import free_port
from pacs_data import copy_of_sample

from jradi_desktop.cli import main
from jradi_desktop.imaging import PlausibilityNote, open_image
from jradi_desktop.pacs import PacsEntry, PacsError, PacsRegistry, find_studies, send_report
from jradi_desktop.reports import (
    TITLE_JA,
    ReportDocument,
    ReportExportError,
    build_dicom_sr,
    build_encapsulated_pdf,
    write_encapsulated_pdf,
)

PATIENT = "JRADI-PDF-0001"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"  # PS3.4 Annex B, Encapsulated PDF Storage
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
pytestmark = pytest.mark.slow


@pytest.fixture
def document(tmp_path: Path) -> ReportDocument:
    image = open_image(copy_of_sample(tmp_path / "chest.dcm", PATIENT))
    return ReportDocument.from_image(image, findings="右下肺野に浸潤影を認める。",
                                     impression="肺炎疑い。", model_name="demo")  # fmt: skip


@pytest.fixture
def pdf(qapp, document: ReportDocument, tmp_path: Path) -> Path:
    from jradi_desktop.ui.pdf_export import write_pdf

    return write_pdf(document, tmp_path / "report.pdf")


def pdf_text(data: bytes, folder: Path) -> str | None:
    """The PDF's text with whitespace removed (poppler's pdftotext), None without it."""
    if shutil.which("pdftotext") is None:
        return None
    path = folder / "read-back.pdf"
    path.write_bytes(data)
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                          check=True)  # fmt: skip
    return "".join(done.stdout.decode("utf-8").split())


@pytest.mark.gui
@pytest.mark.parametrize("tail", [b"", b"\n"], ids=["as-written", "one-byte-longer"])
def test_the_encapsulated_pdf_is_what_ps3_3_asks(document, pdf: Path, tmp_path: Path, tail):
    """One of the two lengths is odd: OB is padded to even with a single 0x00 (PS3.5 6.2),
    the unpadded length is in Encapsulated Document Length (0042,0015)."""
    source = tmp_path / "with-tail.pdf"
    source.write_bytes(pdf.read_bytes() + tail)
    original = source.read_bytes()
    ds = pydicom.dcmread(write_encapsulated_pdf(document, source, tmp_path / "report-pdf.dcm"))
    image = pydicom.dcmread(document.source_path)

    assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID == ENCAPSULATED_PDF
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.file_meta.TransferSyntaxUID == EXPLICIT_VR_LE
    assert ds.SOPInstanceUID != image.SOPInstanceUID
    # Encapsulated Document module (C.24.2)
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert ds["EncapsulatedDocument"].VR == "OB"
    stored = ds.EncapsulatedDocument
    assert len(stored) % 2 == 0
    assert ds.EncapsulatedDocumentLength == len(original)
    assert stored[: len(original)] == original
    assert stored[len(original) :] == (b"\x00" if len(original) % 2 else b"")
    assert ds.InstanceNumber == 1 and ds.BurnedInAnnotation == "YES"
    assert ds.DocumentTitle == TITLE_JA == "胸部X線 読影レポート（AI 下書き）"
    assert len(ds.ContentDate) == 8 and len(ds.ContentTime) >= 6 and ds.AcquisitionDateTime
    [concept] = ds.ConceptNameCodeSequence
    sr = build_dicom_sr(document)
    [sr_concept] = sr.ConceptNameCodeSequence
    assert (concept.CodeValue, concept.CodingSchemeDesignator) == ("18748-4", "LN")
    assert concept == sr_concept  # the same document title code as the SR's
    [derived_from] = ds.SourceInstanceSequence
    assert derived_from.ReferencedSOPInstanceUID == image.SOPInstanceUID
    assert derived_from.ReferencedSOPClassUID == image.SOPClassUID
    # Patient / General Study: the image's study; Encapsulated Document Series: a new one
    assert ds.StudyInstanceUID == image.StudyInstanceUID == sr.StudyInstanceUID
    assert ds.PatientID == image.PatientID == PATIENT
    assert str(ds.PatientName) == str(image.PatientName)
    assert ds.Modality == "DOC" and isinstance(ds.SeriesNumber, int)
    assert ds.SeriesInstanceUID not in (image.SeriesInstanceUID, sr.SeriesInstanceUID)
    # General Equipment, SC Equipment, SOP Common
    assert ds.Manufacturer == "JRadi Desktop" and ds.ConversionType == "WSD"
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    type_2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
              "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber")  # fmt: skip
    assert all(keyword in ds for keyword in type_2)  # of the Patient and General Study modules


def test_the_pdf_bytes_inside_equal_the_file(document, tmp_path: Path):
    """What the PACS is handed is the PDF file, byte for byte, and nothing but a PDF goes in."""
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
    ds = build_encapsulated_pdf(document, pdf)
    assert ds.EncapsulatedDocument[: ds.EncapsulatedDocumentLength] == pdf
    with pytest.raises(ReportExportError, match="not a PDF"):
        build_encapsulated_pdf(document, b"<html>not a pdf</html>")


def test_a_document_without_a_dicom_source_is_refused(tmp_path: Path):
    png = tmp_path / "chest.png"
    assert main(["render", str(copy_of_sample(tmp_path / "c.dcm", PATIENT)), str(png)]) == 0
    document = ReportDocument.from_image(open_image(png), findings="所見")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    with pytest.raises(ReportExportError) as refused:
        write_encapsulated_pdf(document, pdf, tmp_path / "report-pdf.dcm")
    assert "chest.png: DICOM 画像ではないため" in refused.value.message_ja
    assert "chest.png: not a DICOM image" in refused.value.message_en
    folder = tmp_path / "out"
    folder.mkdir()
    entry = PacsEntry("down", "127.0.0.1", free_port(), "X", timeout=5)
    with pytest.raises(PacsError, match=r"chest\.png: not a DICOM image"):
        send_report(entry, document, folder, pdf)
    assert list(folder.iterdir()) == []  # refused before anything was written or sent


def test_the_document_crosses_to_the_pdf_process_unchanged(tmp_path: Path):
    """``--send-pdf`` hands the document to ``python -m jradi_desktop.ui.pdf_export`` as JSON:
    every field comes back equal, warnings, paths and aware and naive datetimes included."""
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone

    png = tmp_path / "chest.png"
    assert main(["render", str(copy_of_sample(tmp_path / "c.dcm", PATIENT)), str(png)]) == 0
    jst = timezone(timedelta(hours=9))
    for document in (
        ReportDocument.from_image(open_image(copy_of_sample(tmp_path / "d.dcm", PATIENT)),
                                  findings="所見\n二行目", generated_at=datetime(2026, 4, 1, 9)),
        replace(ReportDocument.from_image(open_image(png), impression="印象",
                                          edited_at=datetime(2026, 4, 1, 9, 30, tzinfo=jst)),
                verified=True, verified_by="Sato^Hanako", verifier_organization="病院",
                warnings=(PlausibilityNote("modality", "胸部X線ではない可能性", "maybe not"),)),
    ):  # fmt: skip
        values = json.loads(json.dumps(document.to_json(), ensure_ascii=False))
        assert ReportDocument.from_json(values) == document


def test_send_pdf_needs_send_sr(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(tmp_path), "--model", "demo", "--send-pdf"])
    assert exit_.value.code == 2
    assert "--send-pdf needs --send-sr PACS" in capsys.readouterr().err


def test_report_send_pdf_files_sr_and_pdf_in_the_image_study(plain_pacs, demo_data: Path, capsys):
    server, entry = plain_pacs
    PacsRegistry().add(entry)
    image = copy_of_sample(demo_data / "chest.dcm", PATIENT)
    args = ["report", str(image), "--model", "demo", "--json", "--send-sr", "院内", "--send-pdf"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    findings = json.loads(out.splitlines()[-1])["findings"]
    assert findings.strip()
    assert "SR and PDF sent to PACS 院内 (status 0x0000, 0x0000)" in err

    source = pydicom.dcmread(image)
    [study] = find_studies(entry, patient_id=PATIENT, modalities=None)
    assert study.study_uid == source.StudyInstanceUID
    assert study.instances == 2 and sorted(study.modalities) == ["DOC", "SR"]
    query = {"Level": "Study", "Query": {"StudyInstanceUID": study.study_uid}}
    [study_id] = server.rest("/tools/find", query)
    instances = server.rest(f"/studies/{study_id}/instances")
    classes = {i["MainDicomTags"]["SOPInstanceUID"]: server.rest(
        f"/instances/{i['ID']}/simplified-tags")["SOPClassUID"] for i in instances}  # fmt: skip
    assert sorted(classes.values()) == sorted([BASIC_TEXT_SR, ENCAPSULATED_PDF])
    [pdf_id] = [i["ID"] for i in instances
                if classes[i["MainDicomTags"]["SOPInstanceUID"]] == ENCAPSULATED_PDF]  # fmt: skip

    stored = pydicom.dcmread(BytesIO(server.rest_bytes(f"/instances/{pdf_id}/file")))
    assert stored.Modality == "DOC" and stored.PatientID == PATIENT
    assert stored.SeriesInstanceUID != source.SeriesInstanceUID
    inside = stored.EncapsulatedDocument[: stored.EncapsulatedDocumentLength]
    served = server.rest_bytes(f"/instances/{pdf_id}/pdf")  # Orthanc unwraps it
    assert served.startswith(b"%PDF-") and served.rstrip(b"\x00") == inside
    text = pdf_text(inside, demo_data)
    if text is not None:  # the report's own PDF: its findings and patient are in it
        assert "".join(findings.split())[:20] in text and PATIENT in text


def test_report_send_pdf_for_a_png_is_one_line(plain_pacs, demo_data: Path, capsys):
    PacsRegistry().add(plain_pacs[1])
    png = demo_data / "chest.png"
    assert main(["render", str(copy_of_sample(demo_data / "c.dcm", PATIENT)), str(png)]) == 0
    assert main(["report", str(png), "--model", "demo", "--send-sr", "院内", "--send-pdf"]) == 1
    [line] = re.findall(r"jradi report: [^\r\n]*", capsys.readouterr().err)  # after \r
    assert "chest.png" in line and "not a DICOM image" in line


def test_a_refused_pdf_is_named_and_the_sr_still_stored(document, pdf: Path, tmp_path: Path):
    """A PACS that stores SRs but refuses the PDF with 0xA700 (Orthanc 1.10 cannot refuse one
    SOP class, so a pynetdicom storage SCP plays it): the error names the PDF as the object
    refused and says that the SR was stored."""
    from pynetdicom import AE, StoragePresentationContexts, evt

    received: list[str] = []
    associations: list[object] = []

    def store(event: evt.Event) -> int:
        received.append(str(event.request.AffectedSOPClassUID))
        return 0xA700 if received[-1] == ENCAPSULATED_PDF else 0x0000

    scp = AE(ae_title="REFUSING")
    scp.supported_contexts = StoragePresentationContexts
    port = free_port()
    handlers = [(evt.EVT_C_STORE, store),
                (evt.EVT_ACCEPTED, lambda event: associations.append(event.assoc))]  # fmt: skip
    server = scp.start_server(("127.0.0.1", port), block=False, evt_handlers=handlers)
    try:
        entry = PacsEntry("院内", "127.0.0.1", port, "REFUSING", timeout=10)
        folder = tmp_path / "out"
        folder.mkdir()
        with pytest.raises(PacsError) as refused:
            send_report(entry, document, folder, pdf)
    finally:
        server.shutdown()
    assert received == [BASIC_TEXT_SR, ENCAPSULATED_PDF] and len(associations) == 1
    message_ja, message_en = refused.value.message_ja, refused.value.message_en
    assert "the report's PDF (Encapsulated PDF) was not stored" in message_en
    assert "0xA700" in message_en and message_en.endswith("The report (DICOM SR) was stored.")
    assert "レポートの PDF（Encapsulated PDF）を送信できません" in message_ja
    assert message_ja.endswith("レポート（DICOM SR）は保存されました。")
    assert "レポート（DICOM SR）を送信できません" not in message_ja
