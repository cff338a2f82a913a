"""The user's data folder: model registry, history database, worker logs.

``JRADI_DATA_DIR`` overrides the platform's place (``~/.local/share/JRadi`` on Linux,
``%LOCALAPPDATA%\\JRadi`` on Windows). Everything the app keeps for the user lives here and
nowhere else in their home folder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_folder", "logs_folder"]


def data_folder() -> Path:
    """The data folder (not created here)."""
    from platformdirs import user_data_dir

    override = os.environ.get("JRADI_DATA_DIR")
    return Path(override) if override else Path(user_data_dir("JRadi", appauthor=False))


def logs_folder() -> Path:
    """Where crash logs of the inference worker are kept, created if needed: the data
    folder's ``logs/``, or a folder in the temporary directory when the data folder cannot be
    written (a read-only home): a model must still run."""
    import tempfile

    for folder in (data_folder() / "logs", Path(tempfile.gettempdir()) / "jradi-logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            continue
    return Path(tempfile.gettempdir())
