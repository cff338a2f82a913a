"""How the GUI starts an engine job: ``jradi-engine ARGS --events jsonl`` as a child process."""

from __future__ import annotations

import sys
from pathlib import Path


def engine_arguments(*args: str) -> list[str]:
    """The interpreter arguments that run ``jradi-engine ARGS --events jsonl``."""
    return ["-m", "engine.cli", *args, "--events", "jsonl"]


def engine_command(*args: str) -> tuple[str, list[str]]:
    """Program and arguments for ``jradi-engine ARGS --events jsonl``.

    From source: this interpreter with ``-m engine.cli``. In a frozen (PyInstaller) app there
    is no interpreter to reuse: the full flavour ships a ``jradi-engine`` executable beside
    the app's own.
    """
    if getattr(sys, "frozen", False):
        name = "jradi-engine.exe" if sys.platform == "win32" else "jradi-engine"
        return str(Path(sys.executable).with_name(name)), [*args, "--events", "jsonl"]
    return sys.executable, engine_arguments(*args)
