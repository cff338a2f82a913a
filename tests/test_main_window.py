"""The clinician's window, driven through its real widgets (offscreen)."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pydicom.data
import pytest
from main_window_factory import make_window
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from jradi_desktop.cli import main as jradi
from jradi_desktop.inference import GenerationParams
from jradi_desktop.models import ModelSpec
from jradi_desktop.ui.main_window import MainWindow
from jradi_desktop.ui.report_panel import DRAFT_KEY

pytestmark = pytest.mark.gui
CT = pydicom.data.get_testdata_file("CT_small.dcm")


@pytest.fixture
def window(qtbot, tmp_path):
    win = make_window(tmp_path)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def _drop(window: MainWindow, *paths: str) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    window.dropEvent(event)


def _open(qtbot, window: MainWindow, path: str = CT) -> None:
    _drop(window, path)
    qtbot.waitUntil(lambda: window.current is not None, timeout=10000)


def test_dropped_dicom_shows_exactly_what_jradi_render_writes(qtbot, window, tmp_path):
    _open(qtbot, window)
    current = window.viewer.window()
    out = tmp_path / "render.png"
    # "--window=C,W": a negative center would otherwise read as an option
    assert jradi(["render", CT, str(out), f"--window={current.center},{current.width}"]) == 0
    assert np.array_equal(window.viewer.display_array(), np.asarray(Image.open(out)))


def test_no_model_page_until_a_model_is_set(window, trained_gguf):
    assert window.report_stack.currentIndex() == 0
    window.set_model(ModelSpec("demo", "gguf", trained_gguf["vlm"], trained_gguf["mmproj"]))
    assert window.report_stack.currentIndex() == 1


@pytest.mark.slow
def test_generate_streams_a_report_and_stores_it(qtbot, window, trained_gguf):
    window.set_model(ModelSpec("demo", "gguf", trained_gguf["vlm"], trained_gguf["mmproj"]))
    _open(qtbot, window)
    pieces = []
    window.report.generate_button.click()
    window.session.job.piece.connect(pieces.append)
    with qtbot.waitSignal(window.session.job.finished, timeout=60000):
        pass
    qtbot.waitUntil(lambda: window.report.report_id is not None, timeout=5000)
    assert len(pieces) > 1
    findings, _ = window.report.sections()
    assert findings
    record = window.history.report(window.report.report_id)
    assert record.generated_text == "".join(pieces)
    assert record.image_path == CT
    # the edit is what gets saved: autosave writes the draft and the report's final text
    window.report.findings.setPlainText("右下肺野に浸潤影を認めます（医師修正）。")
    window.report.flush_draft()
    assert (
        window.history.drafts()[DRAFT_KEY]["findings"] == "右下肺野に浸潤影を認めます（医師修正）。"
    )
    assert "医師修正" in window.history.report(window.report.report_id).final_text


@pytest.mark.slow
def test_stop_ends_generation_within_a_second(qtbot, window, demo_gguf):
    window.set_model(ModelSpec("random", "gguf", demo_gguf["vlm"], demo_gguf["mmproj"]))
    window.session.params = GenerationParams(max_new_tokens=3500)
    _open(qtbot, window)
    window.report.generate_button.click()
    with qtbot.waitSignal(window.session.job.piece, timeout=60000):
        pass
    import time

    start = time.perf_counter()
    with qtbot.waitSignal(window.session.job.finished, timeout=5000) as blocker:
        window.report.stop_button.click()
    assert time.perf_counter() - start < 1.0
    assert blocker.args[0].finish_reason == "cancelled"


def test_draft_comes_back_after_kill_9(qtbot, tmp_path):
    script = textwrap.dedent(f"""
        import os, signal
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from pathlib import Path
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from jradi_desktop.imaging import open_image
        from jradi_desktop.models import ModelRegistry
        from jradi_desktop.store import Database, History
        from jradi_desktop.ui.main_window import MainWindow
        tmp = Path({str(tmp_path)!r})
        w = MainWindow(History(Database(tmp / "history.sqlite3")),
                       ModelRegistry(tmp / "models.json"),
                       QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
        w.show_image(open_image({CT!r}))
        w.report.findings.setPlainText("左上肺野に結節影。kill -9 の前に入力")
        w.report.impression.setPlainText("CT での精査を推奨")
        w.report.flush_draft()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert subprocess.run([sys.executable, "-c", script], timeout=60).returncode == -9
    restarted = make_window(tmp_path)
    qtbot.addWidget(restarted)
    assert restarted.session.offer_draft_back(ask=False)
    qtbot.waitUntil(lambda: restarted.report.sections()[0] != "", timeout=10000)
    assert restarted.report.sections() == (
        "左上肺野に結節影。kill -9 の前に入力",
        "CT での精査を推奨",
    )
    assert restarted.current is not None and str(restarted.current.source) == CT
    restarted.close()


def test_english_switch_changes_the_visible_labels(window):
    assert window.tabs.tabText(0) == "レポート"
    assert window.report.findings_label.text() == "所見"
    window.set_language("en")
    assert window.tabs.tabText(0) == "Report"
    assert window.report.findings_label.text() == "Findings"
    assert window.report.generate_button.text() == "Generate (Ctrl+Enter)"
    assert window.actions_by_name["invert"].text() == "Invert"
    window.set_language("ja")
    assert window.tabs.tabText(0) == "レポート"


def test_unreadable_file_is_reported_and_others_open(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    broken = tmp_path / "壊れた画像.png"
    broken.write_bytes(b"\x89PNG not really")
    _drop(window, CT, str(broken))
    qtbot.waitUntil(lambda: bool(shown), timeout=10000)
    assert "壊れた画像.png" in shown[0]
    assert window.current is not None


def test_exported_sr_carries_the_edited_text_and_the_source_uids(qtbot, window, tmp_path):
    import pydicom

    _open(qtbot, window)
    window.report.set_sections("右下肺野に浸潤影を認めます。", "肺炎の疑い。")
    out = tmp_path / "報告.dcm"
    window.session.export("sr", out)
    sr = pydicom.dcmread(out)
    source = pydicom.dcmread(CT)
    assert sr.SpecificCharacterSet == "ISO_IR 192"
    assert sr.StudyInstanceUID == source.StudyInstanceUID
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    series = evidence.ReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == source.SeriesInstanceUID
    assert series.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    texts = []

    def walk(items):
        for item in items:
            if getattr(item, "ValueType", "") == "TEXT":
                texts.append(item.TextValue)
            walk(getattr(item, "ContentSequence", []))

    walk(sr.ContentSequence)
    assert "右下肺野に浸潤影を認めます。" in texts and "肺炎の疑い。" in texts
    for fmt in ("txt", "md", "pdf"):
        target = tmp_path / f"report.{fmt}"
        window.session.export(fmt, target)
        assert target.stat().st_size > 0
    assert "浸潤影" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_window_appears_before_heavy_libraries_are_imported(tmp_path):
    import json
    import os

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "JRADI_PRINT_SHOWN": "1",
           "JRADI_DATA_DIR": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "jradi_desktop.ui.app", "--quit-after", "0.1", CT],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    shown = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("{")))
    assert shown["heavy_modules"] == []


@pytest.mark.slow
def test_chat_question_streams_an_answer(qtbot, window, demo_gguf):
    window.set_model(ModelSpec("text", "gguf", demo_gguf["base"]))
    window.tabs.setCurrentWidget(window.chat)
    window.chat.params = GenerationParams(max_new_tokens=12)
    pieces = []
    window.chat.input.setPlainText("市中肺炎の第一選択薬は？")
    assert window.chat.send()
    job = window.chat.job
    job.piece.connect(lambda text: pieces.append((job.name, text)))
    with qtbot.waitSignal(job.finished, timeout=60000):
        pass
    assert pieces and all(tag == "chat" for tag, _ in pieces)
    qtbot.waitUntil(lambda: len(window.history.messages(window.chat.current_chat)) == 2)
    assert "市中肺炎" in window.chat.transcript.toPlainText()


def test_first_start_registers_the_bundled_demo_model(window, trained_gguf, monkeypatch):
    monkeypatch.setenv("JRADI_DEMO_MODEL_DIR", str(Path(trained_gguf["vlm"]).parent))
    assert window.report_stack.currentWidget() is window.first_start
    window.first_start.demoRequested.emit()
    assert window.registry.default and "demo" in window.registry.default
    assert window.controller.spec.mmproj == trained_gguf["mmproj"]
    assert window.report_stack.currentWidget() is window.report


def test_first_start_registers_the_demo_bunny_shipped_in_resources(window, monkeypatch):
    from jradi_desktop.ui.demo_install import DEMO_NAME

    monkeypatch.delenv("JRADI_DEMO_MODEL_DIR", raising=False)  # no engine, no child process
    window.first_start.demoRequested.emit()
    spec = window.controller.spec
    assert window.registry.default == spec.name == DEMO_NAME and "臨床使用不可" in DEMO_NAME
    assert spec.path.parent.name == "demo-model" and spec.mmproj.name == "vision"
    assert window.report_stack.currentWidget() is window.report


def test_a_missing_demo_model_says_so(window, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    monkeypatch.setenv("JRADI_DEMO_MODEL_DIR", str(tmp_path))  # the only place looked at
    window.first_start.demoRequested.emit()
    assert shown and "デモモデル" in shown[0] and not window.registry.default


def test_history_tab_searches_reports_and_reopens_one(qtbot, window):
    for text in ("所見：右下肺野に浸潤影。\n印象：肺炎疑い。", "所見：異常なし。"):
        window.history.add_report(image_path=CT, model_name="demo", model_path=None,
                                  prompt="p", generated_text=text)  # fmt: skip
    window.tabs.setCurrentWidget(window.history_panel)
    assert window.history_panel.table.rowCount() == 2
    window.history_panel.search.setText("浸潤影")
    assert window.history_panel.table.rowCount() == 1
    window.history_panel.openRequested.emit(window.history_panel.records[0])
    qtbot.waitUntil(lambda: window.report.sections()[0] == "右下肺野に浸潤影。", timeout=10000)
    assert window.report.sections()[1] == "肺炎疑い。"
    assert window.current is not None and str(window.current.source) == CT


def test_multi_frame_file_fills_the_thumbnail_strip(qtbot, window):
    path = pydicom.data.get_testdata_file("SC_rgb_rle_2frame.dcm")
    _open(qtbot, window, path)
    qtbot.waitUntil(lambda: len(window.images) == 2, timeout=10000)
    assert window.thumbnails.count() == 2
    assert window.thumbnails.isVisible()


@pytest.mark.timeout(60)
def test_folder_scan_runs_off_the_ui_thread_and_reports_what_it_skipped(
    qtbot, window, tmp_path, monkeypatch
):
    import os
    import threading

    from PySide6.QtWidgets import QMessageBox

    from jradi_desktop.ui import main_window

    shown, scanned_on = [], []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    real_scan = main_window.scan_images
    monkeypatch.setattr(
        main_window,
        "scan_images",
        lambda paths: scanned_on.append(threading.current_thread()) or real_scan(paths),
    )
    folder = tmp_path / "d"
    folder.mkdir()
    good = folder / "good.png"
    Image.fromarray(np.full((8, 8), 90, np.uint8)).save(good)
    os.mkfifo(folder / "p.bin")  # opening it would block until a writer came
    (folder / "loop").symlink_to(folder / "loop")
    (folder / "x.png").write_text("not a PNG")
    window.open_paths([folder])
    qtbot.waitUntil(lambda: bool(shown), timeout=10000)
    assert scanned_on and scanned_on[0] is not threading.main_thread()
    assert window.current is not None and window.current.source == good
    for name in ("p.bin", "loop", "x.png"):
        assert name in shown[0]
    assert len(window.images) == 1


def test_empty_folder_says_no_images_found(qtbot, window, tmp_path):
    window.open_paths([tmp_path])
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() != "", timeout=10000)
    assert window.statusBar().currentMessage() == "画像が見つかりません"
    assert window.current is None
