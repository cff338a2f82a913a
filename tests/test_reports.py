"""Report export: text, Markdown, DICOM Basic Text SR (read back by pydicom) and PDF."""

from __future__ import annotations

import errno
import pickle
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest
from image_files import DX_STORAGE, write_japanese_dicom
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from jradi_desktop.errors import JRadiError
from jradi_desktop.imaging import open_image
from jradi_desktop.reports import (
    AI_NOTICE_EN,
    AI_NOTICE_JA,
    BASIC_TEXT_SR,
    TITLE_JA,
    ReportDocument,
    ReportExportError,
    atomic_write,
    build_dicom_sr,
    display_person_name,
    to_markdown,
    to_text,
    write_dicom_sr,
    write_markdown,
    write_text,
)

NAME = "Yamada^Tarou=山田^太郎=やまだ^たろう"
FINDINGS = (
    "心拡大なし。右下肺野に浸潤影を認める。\n肋骨横隔膜角は鋭。左肺門部に結節影は見られない。"
)
IMPRESSION = "右下葉肺炎の疑い。"
INDICATION = "発熱、咳嗽 3 日間。"


def make_doc(**fields: object) -> ReportDocument:
    values: dict[str, object] = {
        "findings": FINDINGS,
        "impression": IMPRESSION,
        "indication": INDICATION,
        "model_name": "jradi-vlm-8b-q4_k_m",
        "generated_at": datetime(2024, 4, 1, 10, 30),
        "edited_at": datetime(2024, 4, 1, 10, 42),
        "patient_name": NAME,
        "patient_id": "ID-0001",
        "study_date": "20240401",
        "modality": "DX",
        "source_path": Path("/data/日本語の画像.png"),
        **fields,
    }
    return ReportDocument(**values)  # type: ignore[arg-type]


@pytest.fixture
def japanese_dicom(tmp_path: Path) -> Path:
    """A DX image whose patient and physician names are ISO 2022 IR 87 (JIS X 0208)."""
    return write_japanese_dicom(
        tmp_path / "胸部.dcm",
        np.zeros((8, 8), np.uint16),
        bits_stored=12,
        PatientName=NAME,
        PatientID="ID-0001",
        PatientBirthDate="19600102",
        PatientSex="M",
        StudyDate="20240401",
        StudyTime="101500",
        AccessionNumber="ACC-123",
        ReferringPhysicianName="Suzuki^Ichiro=鈴木^一郎",
        StudyDescription="胸部単純撮影",
    )


def code_of(item: Dataset) -> tuple[str, str]:
    concept = item.ConceptNameCodeSequence[0]
    return concept.CodeValue, concept.CodingSchemeDesignator


def content_items(ds: Dataset) -> list[Dataset]:
    """Every content item below ``ds``, depth first."""
    found = []
    for item in ds.get("ContentSequence", []):
        found.append(item)
        found += content_items(item)
    return found


def text_of(ds: Dataset, code: tuple[str, str]) -> str:
    [item] = [i for i in content_items(ds) if i.ValueType == "TEXT" and code_of(i) == code]
    return item.TextValue.replace("\r\n", "\n")


# --- Text and Markdown -----------------------------------------------------------------------


def test_text_has_headings_notice_model_and_dates():
    text = to_text(make_doc())
    assert text.startswith(TITLE_JA)
    assert AI_NOTICE_JA in text and AI_NOTICE_EN in text
    for heading in ("【臨床情報】", "【所見】", "【印象】"):
        assert heading in text
    assert text.index("【臨床情報】") < text.index("【所見】") < text.index("【印象】")
    assert f"【所見】\n{FINDINGS}\n" in text
    assert f"【印象】\n{IMPRESSION}\n" in text
    assert "モデル: jradi-vlm-8b-q4_k_m" in text
    assert "作成日時: 2024-04-01 10:30" in text
    assert "編集日時: 2024-04-01 10:42" in text
    assert "検査日: 2024-04-01" in text
    assert "患者名: 山田 太郎（やまだ たろう / Yamada Tarou）" in text
    assert "画像ファイル: 日本語の画像.png" in text
    assert "確認状態: 未確認" in text


def test_text_without_indication_or_metadata():
    text = to_text(ReportDocument(findings="異常なし。"))
    assert "臨床情報" not in text
    assert "【印象】\n（記載なし）" in text
    assert "患者名" not in text
    assert AI_NOTICE_JA in text


def test_markdown_structure_and_escaping():
    md = to_markdown(make_doc(patient_id="A|B", verified=True, verified_by="佐藤 花子"))
    assert md.startswith(f"# {TITLE_JA}\n")
    assert f"> **{AI_NOTICE_JA}**" in md and AI_NOTICE_EN in md
    assert "| 患者ID | A\\|B |" in md
    assert "| 確認状態 | 医師確認済み（佐藤 花子） |" in md
    assert "## 臨床情報" in md and "## 所見" in md and "## 印象" in md
    # the author's line break survives Markdown rendering as a hard break
    assert "心拡大なし。右下肺野に浸潤影を認める。  \n肋骨横隔膜角は鋭。" in md
    assert "| モデル | jradi-vlm-8b-q4_k_m |" in md


def test_person_name_display():
    assert display_person_name(NAME) == "山田 太郎（やまだ たろう / Yamada Tarou）"
    assert display_person_name("Doe^John") == "Doe John"
    assert display_person_name("=山田^太郎") == "山田 太郎"
    assert display_person_name("") == ""


def test_write_text_and_markdown(tmp_path: Path):
    doc = make_doc()
    target = tmp_path / "レポート.txt"
    target.write_text("old", encoding="utf-8")
    assert write_text(doc, target) == target
    assert target.read_text(encoding="utf-8") == to_text(doc)
    assert write_markdown(doc, tmp_path / "report.md").read_text("utf-8") == to_markdown(doc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "レポート.txt"]


# --- Errors and atomic writes ----------------------------------------------------------------


def _writers() -> list[object]:
    return [write_text, write_markdown, write_dicom_sr]


@pytest.mark.parametrize("writer", _writers(), ids=["text", "markdown", "sr"])
def test_missing_folder_is_reported_with_the_path(tmp_path: Path, writer):
    path = tmp_path / "存在しないフォルダー" / "report.out"
    with pytest.raises(ReportExportError) as info:
        writer(make_doc(), path)
    assert isinstance(info.value, JRadiError)
    assert str(path) in info.value.message_ja and str(path) in info.value.message_en
    assert "保存先のフォルダーが存在しません" in info.value.message_ja
    assert info.value.path == path


def test_folder_in_the_way_and_file_as_folder(tmp_path: Path):
    with pytest.raises(ReportExportError, match="同じ名前のフォルダーがあります"):
        write_text(make_doc(), tmp_path)
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(ReportExportError, match="folder") as info:
        write_text(make_doc(), blocker / "report.txt")
    assert str(blocker / "report.txt") in str(info.value)


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path):
    target = tmp_path / "report.txt"
    target.write_text("previous report", encoding="utf-8")

    def disk_full(temp: Path) -> None:
        temp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(ReportExportError, match="ディスクの空き容量が不足しています") as info:
        atomic_write(target, disk_full)
    assert "no space left on device" in info.value.message_en
    assert "元のファイルは変更していません" in info.value.message_ja
    assert target.read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]


def test_error_pickles_with_its_path(tmp_path: Path):
    with pytest.raises(ReportExportError) as info:
        write_text(make_doc(), tmp_path / "missing" / "r.txt")
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.path == info.value.path
    assert str(copy) == str(info.value)


# --- DICOM SR ----------------------------------------------------------------------------------


def test_sr_from_a_japanese_dicom_reads_back(japanese_dicom: Path, tmp_path: Path):
    image = open_image(japanese_dicom)
    doc = ReportDocument.from_image(
        image,
        findings=FINDINGS,
        impression=IMPRESSION,
        indication=INDICATION,
        model_name="jradi-vlm-8b",
        generated_at=datetime(2024, 4, 1, 10, 30),
    )
    path = write_dicom_sr(doc, tmp_path / "所見レポート.dcm")
    raw = path.read_bytes()
    assert raw[128:132] == b"DICM"
    assert b"\x1b$B" not in raw and NAME.encode("utf-8") in raw  # UTF-8, not ISO 2022

    sr = pydicom.dcmread(path)
    assert sr.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert sr.file_meta.MediaStorageSOPClassUID == BASIC_TEXT_SR
    assert sr.SOPClassUID == BASIC_TEXT_SR
    assert sr.SpecificCharacterSet == "ISO_IR 192"
    assert sr.Modality == "SR"
    # same patient and study as the image; its own series and instance
    assert str(sr.PatientName) == NAME
    assert sr.PatientID == "ID-0001"
    assert sr.PatientBirthDate == "19600102" and sr.PatientSex == "M"
    assert sr.AccessionNumber == "ACC-123" and sr.StudyTime == "101500"
    assert str(sr.ReferringPhysicianName) == "Suzuki^Ichiro=鈴木^一郎"
    assert sr.StudyDescription == "胸部単純撮影"
    assert sr.StudyInstanceUID == image.study_instance_uid
    assert sr.SeriesInstanceUID not in (image.series_instance_uid, "")
    assert sr.SOPInstanceUID not in (image.sop_instance_uid, "")
    assert sr.file_meta.MediaStorageSOPInstanceUID == sr.SOPInstanceUID
    # the image is the evidence the report was made from
    [study] = sr.CurrentRequestedProcedureEvidenceSequence
    [series] = study.ReferencedSeriesSequence
    [sop] = series.ReferencedSOPSequence
    assert study.StudyInstanceUID == image.study_instance_uid
    assert series.SeriesInstanceUID == image.series_instance_uid
    assert sop.ReferencedSOPInstanceUID == image.sop_instance_uid
    assert sop.ReferencedSOPClassUID == DX_STORAGE
    assert (sr.CompletionFlag, sr.VerificationFlag) == ("PARTIAL", "UNVERIFIED")
    assert "VerifyingObserverSequence" not in sr
    assert sr.ContentDate == "20240401" and sr.ContentTime == "103000"
    # the content tree (TID 2000) with the Japanese texts intact
    assert sr.ValueType == "CONTAINER" and code_of(sr) == ("18748-4", "LN")
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "2000"
    assert text_of(sr, ("121071", "DCM")) == FINDINGS
    assert text_of(sr, ("121073", "DCM")) == IMPRESSION
    assert text_of(sr, ("11329-0", "LN")) == INDICATION
    sections = [code_of(i) for i in sr.ContentSequence if i.ValueType == "CONTAINER"]
    assert sections == [("55752-0", "LN"), ("59776-5", "LN"), ("19005-8", "LN")]
    [language] = [i for i in sr.ContentSequence if code_of(i) == ("121049", "DCM")]
    assert language.ConceptCodeSequence[0].CodeValue == "ja"
    assert text_of(sr, ("121015", "DCM")) == "jradi-vlm-8b"  # the model, a device observer


def test_sr_without_source_uids_starts_a_study(tmp_path: Path):
    doc = make_doc(patient_name="", patient_id="", indication="")
    sr = pydicom.dcmread(write_dicom_sr(doc, tmp_path / "png-report.dcm"))
    assert sr.StudyInstanceUID and sr.StudyInstanceUID != sr.SeriesInstanceUID
    assert "CurrentRequestedProcedureEvidenceSequence" not in sr
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyID"):
        assert keyword in sr  # Type 2: present, empty
    assert text_of(sr, ("121071", "DCM")) == FINDINGS
    assert ("55752-0", "LN") not in [code_of(i) for i in sr.ContentSequence]
    other = build_dicom_sr(doc)
    assert other.StudyInstanceUID != sr.StudyInstanceUID


def test_sr_source_file_replaced_is_not_copied(japanese_dicom: Path, tmp_path: Path):
    doc = ReportDocument.from_image(open_image(japanese_dicom), findings="x")
    other = pydicom.dcmread(japanese_dicom)
    other.StudyInstanceUID = generate_uid()
    other.AccessionNumber = "SOMEONE-ELSE"
    other.save_as(japanese_dicom, enforce_file_format=True)
    sr = build_dicom_sr(doc)
    assert sr.AccessionNumber == ""
    assert sr.StudyInstanceUID == doc.study_instance_uid


def test_sr_verified_only_with_observer_and_organization():
    unverified = build_dicom_sr(make_doc(verified=True, verified_by="Sato^Hanako"))
    assert unverified.VerificationFlag == "UNVERIFIED"
    doc = make_doc(
        verified=True, verified_by="Sato^Hanako=佐藤^花子", verifier_organization="JR病院"
    )
    sr = build_dicom_sr(doc)
    assert (sr.CompletionFlag, sr.VerificationFlag) == ("COMPLETE", "VERIFIED")
    [observer] = sr.VerifyingObserverSequence
    assert str(observer.VerifyingObserverName) == "Sato^Hanako=佐藤^花子"
    assert observer.VerifyingOrganization == "JR病院"
    assert observer.VerificationDateTime.startswith("20240401104200")


# --- PDF -------------------------------------------------------------------------------------


def _pdf_text(path: Path) -> str | None:
    if shutil.which("pdftotext") is None:
        return None
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    )
    return result.stdout.decode("utf-8")


@pytest.mark.gui
def test_pdf_embeds_a_japanese_font_and_holds_the_text(qapp, tmp_path: Path):
    from jradi_desktop.ui.pdf_export import write_pdf

    path = write_pdf(make_doc(), tmp_path / "レポート.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    assert any(key in data for key in (b"/FontFile2", b"/FontFile3", b"/FontFile"))
    assert b"IPAexGothic" in data  # the bundled font, the same on every machine
    assert [p.name for p in tmp_path.iterdir()] == ["レポート.pdf"]
    text = _pdf_text(path)
    if text is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    flat = "".join(text.split())
    assert "所見" in flat and "印象" in flat and "臨床情報" in flat
    for line in (*FINDINGS.splitlines(), IMPRESSION, TITLE_JA, "ID-0001", "jradi-vlm-8b-q4_k_m"):
        assert "".join(line.split()) in flat
    assert "".join(AI_NOTICE_JA.split()) in flat
    # the text is the drawn characters, not look-alikes sharing their glyphs (⾒, ‧)
    assert "⾒" not in flat and "‧" not in flat


@pytest.mark.gui
def test_pdf_escapes_markup_and_reports_a_bad_path(qapp, tmp_path: Path):
    from jradi_desktop.ui.pdf_export import report_html, write_pdf

    html = report_html(make_doc(findings="<b>強調</b> & 1<2"))
    assert "&lt;b&gt;強調&lt;/b&gt; &amp; 1&lt;2" in html
    path = tmp_path / "no-such-folder" / "r.pdf"
    with pytest.raises(ReportExportError) as info:
        write_pdf(make_doc(), path)
    assert str(path) in info.value.message_ja and str(path) in info.value.message_en


@pytest.mark.gui
def test_no_japanese_font_is_a_clear_error(qapp, monkeypatch: pytest.MonkeyPatch, tmp_path):
    from jradi_desktop.ui import pdf_export

    class NoFonts:
        class WritingSystem:
            Japanese = 27

        @staticmethod
        def families(*_: object) -> list[str]:
            return []

    monkeypatch.setattr(pdf_export, "QFontDatabase", NoFonts)
    monkeypatch.setattr(pdf_export, "FONT_DIRS", [tmp_path])
    with pytest.raises(ReportExportError, match="日本語フォントが見つかりません"):
        pdf_export.write_pdf(make_doc(), tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


@pytest.mark.gui
def test_bundled_font_is_preferred(qapp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from jradi_desktop.ui import pdf_export
    from jradi_desktop.ui.fonts import bundled_font_families

    if shutil.which("fc-match") is None:
        pytest.skip("fontconfig's fc-match is not installed")
    found = subprocess.run(
        ["fc-match", "-f", "%{file}", "Noto Sans CJK JP:lang=ja"], capture_output=True, text=True
    ).stdout
    if not found or not Path(found).is_file() or "CJK" not in found:
        pytest.skip("no Noto Sans CJK font file on this machine to bundle")
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    (fonts / Path(found).name).symlink_to(found)
    (fonts / "README.txt").write_text("not a font")
    monkeypatch.setattr(pdf_export, "FONT_DIRS", [fonts])
    monkeypatch.setattr(pdf_export, "SYSTEM_FAMILIES", ())
    assert "Noto Sans CJK JP" in bundled_font_families([fonts])
    assert pdf_export.japanese_font_family() == "Noto Sans CJK JP"
