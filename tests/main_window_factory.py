"""A main window over a temporary history, registry and settings (nothing of the user's)."""

from pathlib import Path

from PySide6.QtCore import QSettings

from jradi_desktop.models import ModelRegistry
from jradi_desktop.store import Database, History
from jradi_desktop.ui.main_window import MainWindow


def make_window(tmp_path: Path) -> MainWindow:
    return MainWindow(
        history=History(Database(tmp_path / "history.sqlite3")),
        registry=ModelRegistry(tmp_path / "models.json"),
        settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
    )
