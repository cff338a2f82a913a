"""Japanese first, English on request: Qt translations compiled from ``translations/*.ts``.

Source strings in the code are Japanese (``self.tr("所見")``); ``jradi_en.ts`` holds their
English translations and ``jradi_en.qm`` is its compiled form (``pyside6-lrelease``), checked
by a test to be up to date.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTranslator

TRANSLATIONS = Path(__file__).parent / "translations"
LANGUAGES = {"ja": "日本語", "en": "English"}

_installed: QTranslator | None = None
_language = "ja"


def current_language() -> str:
    """The language the interface shows now: "ja" unless a translation is installed."""
    return _language


def set_language(language: str) -> None:
    """Install the translator for ``language`` ("ja" removes it: the source is Japanese)."""
    global _installed, _language
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("set_language needs a QApplication")
    if _installed is not None:
        app.removeTranslator(_installed)
        _installed, _language = None, "ja"
    if language == "ja":
        return
    translator = QTranslator(app)
    if not translator.load(str(TRANSLATIONS / f"jradi_{language}.qm")):
        raise FileNotFoundError(f"no translation for {language!r} in {TRANSLATIONS}")
    app.installTranslator(translator)
    _installed, _language = translator, language
