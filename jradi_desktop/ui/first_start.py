"""The page shown at first start, before any model is registered: which files to add, where
they come from, and the demo model to try the app with."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class FirstStartPage(QWidget):
    """Shown while no model is registered: which files to add, where they come from."""

    addRequested = Signal()
    demoRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLabel(wordWrap=True, textFormat=Qt.TextFormat.RichText)
        self.english = QLabel(wordWrap=True)
        self.english.setStyleSheet("color: gray")
        self.english.setText(
            "No model is registered yet. Add model.gguf of the merged JRadiEvo model with its "
            "vision encoder beside it (the vision/ folder for Bunny-v1.1, mmproj.gguf for "
            "LLaVA), made by your engineers with jradi-engine export-gguf; or install the demo "
            "model to try the app (random tiny model, not for clinical use)."
        )
        self.add_button = QPushButton(default=True)
        self.demo_button = QPushButton()
        self.add_button.clicked.connect(self.addRequested)
        self.demo_button.clicked.connect(self.demoRequested)
        card = QWidget()  # a readable column in the middle of a wide window
        card.setMaximumWidth(660)
        column = QVBoxLayout(card)
        column.addWidget(self.text)
        column.addWidget(self.english)
        column.addSpacing(12)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        middle = QHBoxLayout()
        middle.addStretch(1)
        middle.addWidget(card, 4)
        middle.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(middle)
        layout.addStretch(2)
        self.retranslate()

    def retranslate(self) -> None:
        title = self.tr("モデルを登録してください")
        intro = self.tr(
            "JRadi Desktop は、このコンピューターの中だけで動く AI モデルを使います。"
            "はじめに、統合済みの JRadiEvo モデルを登録してください。エンジニアから受け取る"
            "フォルダーには次のファイルが入っています。"
        )
        files = [
            ("model.gguf", self.tr("言語モデル（レポート作成と医療QA）")),
            (
                "vision/",
                self.tr(
                    "画像エンコーダー（Bunny-v1.1 系のモデル：SigLIP の ONNX ファイル、"
                    "投影層、manifest.json を含むフォルダー。X 線画像の読影に必要）"
                ),
            ),
            (
                "mmproj.gguf",
                self.tr("画像エンコーダー（LLaVA 系のモデル：vision/ の代わりのファイル）"),
            ),
        ]
        source = self.tr(
            "これらのファイルは、エンジニアが jradi-engine export-gguf で作成します。"
            "受け取ったフォルダーをそのまま置き、「モデルを追加…」で model.gguf を選んで"
            "ください。同じフォルダーにある vision/ または mmproj.gguf は自動で見つかります。"
        )
        listed = "".join(f"<li><b>{name}</b> — {html.escape(what)}</li>" for name, what in files)
        self.text.setText(
            f"<h2>{html.escape(title)}</h2><p>{html.escape(intro)}</p><ul>{listed}</ul>"
            f"<p>{html.escape(source)}</p>"
        )
        self.add_button.setText(self.tr("モデルを追加…"))
        self.demo_button.setText(self.tr("デモモデルをインストール（臨床使用不可）"))
