"""The PACS tab and 「PACSへ送信」 in the app, offscreen, against a real Orthanc (issue #23):
search -> double-click -> the images open in the viewer bit-identical to what was stored ->
a report by the shipped demo model -> 「PACSへ送信」 -> Orthanc holds the SR in the same
study. Also: a report (SR) inside a study is left out of the viewer with a note, Stop leaves
nothing in the cache, and the window keeps running while a PACS does not answer."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from main_window_factory import make_window
from orthanc_server import Orthanc, orthanc_server
from pacs_data import study_of_small_crs, utf8_dx_copy
from PySide6.QtCore import QTimer
from test_pacs_send_pdf import pdf_text

from jradi_desktop.imaging import open_image
from jradi_desktop.pacs import PacsEntry, PacsRegistry, find_studies, send
from jradi_desktop.reports import ReportDocument, write_dicom_sr

PATIENT = "JRADI-APP-0001"
WITH_SR = "JRADI-APP-SR-0002"
MANY = "JRADI-APP-MANY-0003"
pytestmark = [pytest.mark.slow, pytest.mark.gui]


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Orthanc, PacsEntry, dict[str, Path]]:
    """Orthanc with: a UTF-8 DX (kanji name), a study holding an image and an SR, and a study
    of 40 small CRs (to stop)."""
    folder = tmp_path_factory.mktemp("orthanc-app")
    with orthanc_server(folder / "server") as server:
        entry = PacsEntry("院内PACS", server.host, server.dicom_port, server.aet, timeout=10)
        image = utf8_dx_copy(folder / "dx.dcm", PATIENT)
        other = utf8_dx_copy(folder / "dx2.dcm", WITH_SR)
        sr = write_dicom_sr(
            ReportDocument.from_image(open_image(other), findings="既存のレポート"),
            folder / "sr.dcm",
        )
        _, many = study_of_small_crs(folder / "many", 40, MANY)
        assert all(r.ok for r in send(entry, [image, other, sr, *many]))
        yield server, entry, {"image": image, "other": other}


@pytest.fixture
def window(pacs, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The app's window with the PACS registered in a fresh data folder."""
    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path / "data"))
    PacsRegistry().add(pacs[1])
    window = make_window(tmp_path)
    qtbot.addWidget(window)
    window.tabs.setCurrentWidget(window.pacs)
    yield window
    window.set_language("ja")  # the translator is global: later tests expect Japanese


def _search(qtbot, window, patient_id: str) -> None:
    panel = window.pacs
    panel.patient_id.setText(patient_id)
    panel.search_button.click()
    qtbot.waitUntil(lambda: panel.job is None, timeout=20000)


def _cached_studies(window) -> list[str]:
    folder = window.pacs_cache.folder
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_round_trip_search_open_report_send(pacs, window, qtbot):
    from jradi_desktop.ui.demo_install import bundled_demo

    server, entry, seeds = pacs
    panel = window.pacs
    assert panel.entry_box.currentText() == "院内PACS"
    window.set_model(bundled_demo())
    _search(qtbot, window, PATIENT)
    assert panel.table.rowCount() == 1, panel.status.text()
    cells = [panel.table.item(0, c).text() for c in range(panel.table.columnCount())]
    assert cells == ["試験 花子", PATIENT, "2026/04/01", "DX", "1", "1",
                     "胸部単純X線（合成サンプル・患者データではありません）"]  # fmt: skip

    panel.table.cellDoubleClicked.emit(0, 0)
    qtbot.waitUntil(lambda: window.current is not None, timeout=30000)
    assert window.thumbnails.count() == 1
    assert "画像 1 枚を開きました" in panel.status.text()
    stored = pydicom.dcmread(seeds["image"])
    shown = window.current
    assert shown.source.parent.parent == window.pacs_cache.folder
    assert pydicom.dcmread(shown.source).PixelData == stored.PixelData  # bit-identical
    assert np.array_equal(shown.pixels, open_image(seeds["image"]).pixels)
    assert window.report.send_button.isEnabled()
    assert "院内PACS" in window.report.send_button.toolTip()

    window.tabs.setCurrentIndex(0)
    window.report.generate_button.click()
    with qtbot.waitSignal(window.session.job.finished, timeout=180000):
        pass
    findings, _ = window.report.sections()
    assert findings
    with qtbot.waitSignal(window.pacs_sender.sent, timeout=30000):
        window.report.send_button.click()
    assert (
        "院内PACS" in window.report.status.text() and "送信しました" in window.report.status.text()
    )

    [study] = find_studies(entry, patient_id=PATIENT, modalities=None)
    assert study.instances == 2 and "SR" in study.modalities
    [sr_id] = server.rest("/tools/find", {"Level": "Instance", "Query": {"Modality": "SR",
                                           "PatientID": PATIENT}})  # fmt: skip
    parent = server.rest(f"/series/{server.rest(f'/instances/{sr_id}')['ParentSeries']}")
    tags = server.rest(f"/studies/{parent['ParentStudy']}")["MainDicomTags"]
    assert tags["StudyInstanceUID"] == stored.StudyInstanceUID
    from io import BytesIO

    sr = pydicom.dcmread(BytesIO(server.rest_bytes(f"/instances/{sr_id}/file")))
    [evidence] = sr.CurrentRequestedProcedureEvidenceSequence
    [series] = evidence.ReferencedSeriesSequence
    assert series.SeriesInstanceUID == stored.SeriesInstanceUID
    assert series.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == stored.SOPInstanceUID
    texts = [str(item.get("TextValue", "")) for c in sr.ContentSequence
             for item in c.get("ContentSequence", [])]  # fmt: skip
    assert findings in texts


def test_a_report_in_the_study_is_left_out_of_the_viewer(pacs, window, qtbot):
    panel = window.pacs
    panel.modalities["DX"].setChecked(False)
    panel.modalities["CR"].setChecked(False)  # none checked: any modality
    _search(qtbot, window, WITH_SR)
    assert panel.table.rowCount() == 1 and panel.table.item(0, 3).text() in ("DX/SR", "SR/DX")
    assert panel.table.item(0, 5).text() == "2"
    panel.table.cellDoubleClicked.emit(0, 0)
    qtbot.waitUntil(lambda: window.current is not None, timeout=30000)
    qtbot.waitUntil(lambda: panel.job is None, timeout=5000)
    assert window.thumbnails.count() == 1
    assert "画像ではないもの 1 件（レポートなど）は表示しません" in panel.status.text()
    assert window.current.sop_instance_uid == pydicom.dcmread(pacs[2]["other"]).SOPInstanceUID


def test_stop_during_a_retrieve_keeps_nothing(pacs, window, qtbot):
    panel = window.pacs
    _search(qtbot, window, MANY)
    assert panel.table.item(0, 5).text() == "40"
    panel.table.cellDoubleClicked.emit(0, 0)
    assert panel.stop_button.isEnabled() and not panel.search_button.isEnabled()
    panel.job.progress.connect(lambda *_: panel.stop_button.click())
    qtbot.waitUntil(lambda: panel.job is None, timeout=30000)
    assert "取得を中止しました" in panel.status.text()
    assert window.current is None and _cached_studies(window) == []


def test_a_silent_pacs_keeps_the_window_running(pacs, window, qtbot, monkeypatch):
    """A PACS that accepts TCP and never answers: the search ends at the entry's timeout with
    a message naming the PACS and the step, and the UI thread runs meanwhile (in English)."""
    window.set_language("en")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        PacsRegistry().add(PacsEntry("silent", "127.0.0.1", port, "X", timeout=2))
        panel = window.pacs
        panel.refresh_entries()
        panel.entry_box.setCurrentText("silent")
        ticks: list[float] = []
        timer = QTimer(window, interval=50)
        timer.timeout.connect(lambda: ticks.append(time.monotonic()))
        timer.start()
        started = time.monotonic()
        _search(qtbot, window, PATIENT)
        timer.stop()
    assert 1.5 < time.monotonic() - started < 10
    assert len(ticks) > 10  # the event loop ran all along
    text = panel.status.text()
    assert "silent (X@127.0.0.1:" in text and "[C-FIND]" in text and "no answer within 2 s" in text
    assert panel.search_button.text() == "Search"
    assert window.report.send_button.text() == "Send to PACS"


def test_send_with_the_pdf(pacs, window, qtbot, tmp_path: Path):
    """「PDF も送る」 on: the report as the physician typed it goes as SR and as Encapsulated
    PDF (drawn by the app) into the image's study, and the status line says both went."""
    server, entry, _ = pacs
    patient = "JRADI-APP-PDF-0004"
    image = utf8_dx_copy(tmp_path / "pdf-dx.dcm", patient)
    assert all(r.ok for r in send(entry, [image]))
    panel = window.pacs
    _search(qtbot, window, patient)
    panel.table.cellDoubleClicked.emit(0, 0)
    qtbot.waitUntil(lambda: window.current is not None, timeout=30000)
    window.tabs.setCurrentIndex(0)
    report = window.report
    assert not report.send_pdf.isChecked() and report.send_pdf.isEnabled()
    assert report.send_pdf.text() == "PDF も送る"
    report.set_sections("右下肺野に浸潤影を認める。", "肺炎疑い。")
    report.send_pdf.setChecked(True)
    with qtbot.waitSignal(window.pacs_sender.sent, timeout=30000) as sent:
        report.send_button.click()
    assert len(sent.args[0]) == 2 and all(r.ok for r in sent.args[0])
    assert report.status.text() == "PACS「院内PACS」へレポート（DICOM SR と PDF）を送信しました"
    assert window.pacs_sender.folder is None  # the temporary SR and PDF are gone

    stored = pydicom.dcmread(image)
    [study] = find_studies(entry, patient_id=patient, modalities=None)
    assert study.study_uid == stored.StudyInstanceUID
    assert study.instances == 3 and set(study.modalities) == {"DX", "SR", "DOC"}
    [pdf_id] = server.rest("/tools/find", {"Level": "Instance", "Query": {"Modality": "DOC",
                                            "PatientID": patient}})  # fmt: skip
    tags = server.rest(f"/instances/{pdf_id}/simplified-tags")
    assert tags["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.104.1"
    assert tags["MIMETypeOfEncapsulatedDocument"] == "application/pdf"
    served = server.rest_bytes(f"/instances/{pdf_id}/pdf")
    assert served.startswith(b"%PDF-")
    text = pdf_text(served, tmp_path)
    if text is not None:  # the report as edited on screen, about this patient
        assert "右下肺野に浸潤影を認める。" in text and patient in text
