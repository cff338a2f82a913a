"""Screenshots of the real app for the README (run under a real X server or Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/screenshots.py
    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/screenshots.py   # without an X server

Uses the shipped demo Bunny (resources/demo-model/: GGUF + the S² vision encoder), opens the
bundled synthetic chest radiograph, generates a report, asks the chat one question and saves
docs/screenshots/*.png. Where Orthanc is installed (Debian ``orthanc``), a test PACS on
loopback (``tests/orthanc_server.py``) is seeded with synthetic studies for the PACS tab's shot.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "screenshots"
SAMPLE = ROOT / "resources" / "samples" / "chest_phantom.dcm"
# Synthetic patients for the PACS tab: (patient ID, DICOM name, study date); no real data.
PACS_PATIENTS = (
    ("JRADI-0001", "Shiken^Hanako=試験^花子=しけん^はなこ", "20260401"),
    ("JRADI-0002", "Yamada^Tarou=山田^太郎=やまだ^たろう", "20260403"),
    ("JRADI-0003", "Suzuki^Ichirou=鈴木^一郎=すずき^いちろう", "20260407"),
)


def wait(app: object, condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


def _seed_pacs(folder: Path) -> list[Path]:
    """UTF-8 DX copies of the sample, one study per synthetic patient."""
    import pydicom
    from pydicom.uid import generate_uid

    files = []
    for patient_id, name, date in PACS_PATIENTS:
        ds = pydicom.dcmread(SAMPLE)
        ds.decode()
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.PatientID, ds.PatientName, ds.StudyDate, ds.Modality = patient_id, name, date, "DX"
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        files.append(folder / f"{patient_id}.dcm")
        ds.save_as(files[-1], enforce_file_format=True)
    return files


def pacs_shot(app: object, window: object, tmp: Path) -> None:
    """The PACS tab against a test Orthanc: a search's study list, one study opened."""
    if shutil.which("Orthanc") is None:
        print("Orthanc is not installed: no PACS tab screenshot")
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from orthanc_server import orthanc_server

    from jradi_desktop.pacs import PacsEntry, PacsRegistry, send

    with orthanc_server(tmp / "orthanc") as server:
        entry = PacsEntry("院内PACS", server.host, server.dicom_port, server.aet, timeout=10)
        send(entry, _seed_pacs(tmp))
        PacsRegistry().add(entry)
        panel = window.pacs
        window.tabs.setCurrentWidget(panel)
        panel.refresh_entries()
        panel.search()
        wait(app, lambda: panel.job is None and panel.table.rowCount() > 0, timeout=30)
        panel.table.selectRow(0)
        panel.retrieve(0)
        wait(app, lambda: panel.job is None, timeout=30)
        wait(app, lambda: False, timeout=1.0)
        window.grab().save(str(SHOTS / "app_pacs_ja.png"))
        from jradi_desktop.ui.pacs_entries_dialog import PacsEntriesDialog

        dialog = PacsEntriesDialog(panel.registry, window, cache=panel.cache)
        dialog.entry_list.setCurrentRow(0)
        dialog.show()
        wait(app, lambda: False, timeout=0.3)
        dialog.grab().save(str(SHOTS / "app_pacs_settings_ja.png"))
        dialog.close()


def main() -> int:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from jradi_desktop.models import ModelRegistry
    from jradi_desktop.store import Database, History
    from jradi_desktop.ui.demo_install import bundled_demo
    from jradi_desktop.ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    SHOTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["JRADI_DATA_DIR"] = str(tmp / "data")  # the PACS list and cache too
        demo = bundled_demo()
        if demo is None:
            print("resources/demo-model/ is missing: run tools/make_demo_model.py")
            return 1
        window = MainWindow(
            History(Database(tmp / "h.sqlite3")), ModelRegistry(tmp / "m.json"),
            QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat),
        )  # fmt: skip
        window.resize(1500, 900)
        window.show()
        wait(app, lambda: False, timeout=0.5)
        window.grab().save(str(SHOTS / "app_first_start_ja.png"))
        window.set_model(demo)
        window.open_paths([SAMPLE])
        wait(app, lambda: window.current is not None)
        window.report.indication.setText("発熱と咳嗽")
        done: list[bool] = []
        window.session.generate("発熱と咳嗽")
        window.session.job.finished.connect(lambda *_: done.append(True))
        wait(app, lambda: bool(done))
        wait(app, lambda: False, timeout=2.5)  # status bar refresh
        window.grab().save(str(SHOTS / "app_report_ja.png"))
        window.set_language("en")
        wait(app, lambda: False, timeout=0.3)
        window.grab().save(str(SHOTS / "app_report_en.png"))
        window.set_language("ja")
        window.tabs.setCurrentWidget(window.chat)
        window.chat.input.setPlainText("胸部X線で心胸郭比が60%でした。考えられることは？")
        done.clear()
        window.chat.send()
        window.chat.job.finished.connect(lambda *_: done.append(True))
        wait(app, lambda: bool(done))
        wait(app, lambda: False, timeout=0.5)
        window.grab().save(str(SHOTS / "app_chat_ja.png"))
        pacs_shot(app, window, tmp)
        window.close()
    print(f"screenshots in {SHOTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
