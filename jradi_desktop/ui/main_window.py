"""The main window. For now a start page: the viewer, report and chat arrive with issue #4."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMainWindow

START_TEXT = (
    "<h2>JRadi Desktop</h2>"
    "<p>院内で完結する胸部X線読影レポート作成支援（開発中）。</p>"
    "<p>ビューア・レポート・医療QAチャットは準備中です。"
    "モデルの準備は <code>jradi-engine demo-models</code> と "
    "<code>jradi-engine export-gguf</code> で行えます。</p>"
    "<p style='color:gray'>Offline Japanese chest X-ray report drafting (in development). "
    "The viewer, report panel and QA chat are not available yet.</p>"
)


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("JRadi Desktop")
        label = QLabel(START_TEXT)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        self.setCentralWidget(label)
        self.resize(960, 640)
