"""Screenshots of the real app for the README (run under a real X server or Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tools/screenshots.py
    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/screenshots.py   # without an X server

Uses the shipped demo Bunny (resources/demo-model/: GGUF + the S² vision encoder), opens the
bundled synthetic chest radiograph, generates a report, asks the chat one question and saves
docs/screenshots/*.png.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "screenshots"
SAMPLE = ROOT / "resources" / "samples" / "chest_phantom.dcm"


def wait(app: object, condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


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
        window.close()
    print(f"screenshots in {SHOTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
