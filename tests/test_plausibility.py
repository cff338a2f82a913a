"""Plausibility notes: an image that may not be a chest radiograph is said to be so, in the
report's JSON, in every export and above the report in the app."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from image_files import write_dicom
from PIL import Image

from jradi_desktop.imaging import XrayImage, open_image, plausibility_notes
from jradi_desktop.pipeline import generate_report
from jradi_desktop.reports import ReportDocument, build_dicom_sr, to_markdown, to_text

ROOT = Path(__file__).resolve().parents[1]
CHEST = ROOT / "resources" / "samples" / "chest_phantom.dcm"
RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"


def codes(image: XrayImage) -> list[str]:
    return [note.code for note in plausibility_notes(image)]


def chest_like(rows: int = 512, columns: int = 512) -> np.ndarray:
    """A grey radiograph-like picture: a bright frame, two darker lung fields."""
    y, x = np.mgrid[0:rows, 0:columns]
    lungs = (np.abs(x - columns * 0.3) < columns * 0.15) | (
        np.abs(x - columns * 0.7) < columns * 0.15
    )
    grey = np.where(lungs & (np.abs(y - rows / 2) < rows * 0.35), 60, 200)
    return (grey + (x * 7 + y * 3) % 23).astype(np.uint8)


def write_png(path: Path, pixels: np.ndarray) -> Path:
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def rtdose(tmp_path: Path) -> Path:
    """An RT Dose grid: 32-bit dose values in a few frames, as a planning system writes it."""
    z, y, x = np.mgrid[0:4, 0:60, 0:80]
    dose = (200000 * np.exp(-((x - 40) ** 2 + (y - 30) ** 2 + (z - 2) ** 2) / 300)).astype(
        np.uint32
    )
    frames, rows, columns = dose.shape
    return write_dicom(
        tmp_path / "RD.plan.dcm",
        None,
        SOPClassUID=RT_DOSE_STORAGE, Modality="RTDOSE", PatientName="Test^Dose",
        DoseUnits="GY", DoseType="PHYSICAL", DoseSummationType="PLAN", DoseGridScaling=1e-5,
        NumberOfFrames=frames, Rows=rows, Columns=columns,
        SamplesPerPixel=1, PhotometricInterpretation="MONOCHROME2",
        BitsAllocated=32, BitsStored=32, HighBit=31, PixelRepresentation=0,
        FrameIncrementPointer=0x3004000C,  # Grid Frame Offset Vector
        PixelData=dose.astype("<u4").tobytes(),
        GridFrameOffsetVector=[0.0, 2.5, 5.0, 7.5],
    )  # fmt: skip


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A colour photograph (sky, grass and a red roof), JPEG."""
    rows, columns = 480, 640
    y, x = np.mgrid[0:rows, 0:columns]
    rgb = np.zeros((rows, columns, 3), np.uint8)
    rgb[y < rows // 2] = (110, 160, 230)
    rgb[y >= rows // 2] = (70, 150, 60)
    rgb[(np.abs(x - 320) < 120) & (np.abs(y - 200) < 60)] = (190, 40, 30)
    path = tmp_path / "holiday.jpg"
    Image.fromarray(rgb).save(path, quality=90)
    return path


def test_a_one_pixel_png_is_too_small(tmp_path):
    [note] = plausibility_notes(
        open_image(write_png(tmp_path / "dot.png", np.zeros((1, 1), np.uint8)))
    )
    assert note.code == "too_small"
    assert note.ja == "画像が小さすぎて読影できません（1×1 ピクセル）。所見は参考になりません。"
    assert note.en == "The image is too small to read (1×1 pixels). The findings are not reliable."


def test_an_rt_dose_grid_is_not_a_chest_radiograph(rtdose):
    image = open_image(rtdose)
    assert codes(image) == ["modality", "too_small"]
    note = plausibility_notes(image)[0]
    assert note.ja == (
        "胸部単純X線写真ではない可能性があります（Modality: RTDOSE）。所見は参考になりません。"
    )
    assert "(Modality: RTDOSE)" in note.en


def test_a_colour_photo_is_said_to_be_colour(photo):
    assert codes(open_image(photo)) == ["colour"]


def test_ordinary_chest_images_get_no_note(tmp_path):
    assert codes(open_image(CHEST)) == []
    grey = chest_like()
    assert codes(open_image(write_png(tmp_path / "grey.png", grey))) == []
    as_rgb = np.repeat(grey[..., None], 3, axis=2)  # grey content stored as RGB
    assert codes(open_image(write_png(tmp_path / "rgb.png", as_rgb))) == []
    jpeg = tmp_path / "rgb.jpg"
    Image.fromarray(as_rgb).save(jpeg, quality=70)  # compression adds a little chroma
    assert open_image(jpeg).is_colour and codes(open_image(jpeg)) == []
    marked = as_rgb.copy()
    marked[20:60, 20:50] = (255, 0, 0)  # a red side marker on a grey radiograph
    assert codes(open_image(write_png(tmp_path / "marked.png", marked))) == []


@pytest.mark.parametrize(
    ("modality", "body_part", "expected"),
    [
        ("DX", "CHEST", []),
        ("CR", "胸部", []),
        ("DX", "Thorax", []),
        ("RG", "", []),
        ("OT", "", []),
        ("DX", "ABDOMEN", ["body_part"]),
        ("MG", "BREAST", ["modality", "body_part"]),
        ("CT", "CHEST", ["modality"]),
    ],
)
def test_modality_and_body_part(modality, body_part, expected):
    image = XrayImage(pixels=np.zeros((512, 512), np.float32), modality=modality,
                      body_part=body_part)  # fmt: skip
    assert codes(image) == expected


class _Draft:
    """A generator that writes a fixed draft (the model's part is tested elsewhere)."""

    finish_reason = "stop"

    def generate(self, messages, images=(), params=None, on_progress=None):
        yield "所見：両肺野に異常陰影なし。\n印象：異常なし。"


def test_report_json_carries_the_notes(rtdose, tmp_path):
    result = generate_report(_Draft(), rtdose, model_name="demo")
    data = json.loads(json.dumps(result.to_json(), ensure_ascii=False))
    assert [w["code"] for w in data["warnings"]] == ["modality", "too_small"]
    assert data["warnings"][0] == plausibility_notes(open_image(rtdose))[0].to_json()
    assert set(data["warnings"][0]) == {"code", "ja", "en"}
    assert generate_report(_Draft(), CHEST, model_name="demo").to_json()["warnings"] == []


@pytest.mark.slow
def test_jradi_report_json_shows_the_notes(rtdose, demo_gguf, capsys):
    from jradi_desktop.cli import main

    args = ["report", str(rtdose), "--model", str(demo_gguf["vlm"]), "--json",
            "--max-new-tokens", "4"]  # fmt: skip
    assert main(args) == 0
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [w["code"] for w in line["warnings"]] == ["modality", "too_small"]
    assert "RTDOSE" in line["warnings"][0]["ja"]


def test_exports_carry_the_notes(rtdose):
    doc = ReportDocument.from_image(open_image(rtdose), findings="異常なし。", impression="")
    [modality, small] = doc.warnings
    text = to_text(doc)
    assert f"【注意】{modality.ja}\nWarning: {modality.en}" in text
    assert text.index(small.ja) < text.index("【所見】")  # above the report
    markdown = to_markdown(doc)
    assert f"> **【注意】{modality.ja}**  \n> Warning: {modality.en}" in markdown
    sr = build_dicom_sr(doc)
    [findings] = [i for i in sr.ContentSequence if i.ValueType == "CONTAINER"]
    comments = [i.TextValue for i in findings.ContentSequence
                if i.ConceptNameCodeSequence[0].CodeValue == "121106"]  # fmt: skip
    assert comments == [f"{n.ja}\r\n{n.en}" for n in doc.warnings]
    assert findings.ContentSequence[-1].TextValue == "異常なし。"
    plain = ReportDocument.from_image(open_image(CHEST), findings="異常なし。")
    assert plain.warnings == () and "【注意】" not in to_text(plain) + to_markdown(plain)


@pytest.mark.gui
def test_pdf_carries_the_notes(qapp, rtdose, tmp_path):
    from jradi_desktop.ui.pdf_export import report_html, write_pdf

    doc = ReportDocument.from_image(open_image(rtdose), findings="異常なし。")
    assert "【注意】胸部単純X線写真ではない可能性があります（Modality: RTDOSE）" in report_html(doc)
    assert write_pdf(doc, tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.gui
def test_report_panel_shows_the_note_above_the_report(qtbot, rtdose):
    from jradi_desktop.ui.report_panel import ReportPanel

    panel = ReportPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_image(open_image(rtdose))
    assert panel.warning.isVisible() and "Modality: RTDOSE" in panel.warning.text()
    layout = panel.layout()
    assert layout.indexOf(panel.warning) < layout.indexOf(panel.findings)
    panel.set_image(open_image(CHEST))
    assert not panel.warning.isVisible() and panel.image_notes == []


@pytest.mark.gui
def test_report_panel_notes_follow_the_interface_language(qtbot, rtdose):
    from jradi_desktop.ui.i18n import set_language
    from jradi_desktop.ui.report_panel import ReportPanel

    panel = ReportPanel()
    qtbot.addWidget(panel)
    panel.set_image(open_image(rtdose))
    (note,) = [n for n in panel.image_notes if n.code == "modality"]
    assert note.ja in panel.warning.text() and note.en not in panel.warning.text()
    try:
        set_language("en")
        panel.retranslate()
        assert note.en in panel.warning.text() and note.ja not in panel.warning.text()
    finally:
        set_language("ja")
    panel.retranslate()
    assert note.ja in panel.warning.text()
