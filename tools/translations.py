"""Update the Qt translation files: extract tr() strings (lupdate), compile (lrelease).

    .venv/bin/python tools/translations.py

``jradi_desktop/ui/translations/jradi_en.ts`` is the source of truth for the English texts
(edit it with Qt Linguist, ``pyside6-linguist``, or by hand); this script keeps its entries in
step with the code and writes ``jradi_en.qm`` next to it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UI = ROOT / "jradi_desktop" / "ui"
TS = UI / "translations" / "jradi_en.ts"
BIN = Path(sys.executable).parent


def ui_sources() -> list[Path]:
    marks = ("tr(", "translate(")
    return sorted(p for p in UI.rglob("*.py") if any(m in p.read_text("utf-8") for m in marks))


def lupdate(ts: Path) -> None:
    subprocess.run(
        [str(BIN / "pyside6-lupdate"), *map(str, ui_sources()), "-ts", str(ts),
         "-source-language", "ja", "-target-language", "en", "-no-obsolete", "-locations", "none"],
        check=True, capture_output=True,
    )  # fmt: skip


def lrelease(ts: Path, qm: Path) -> None:
    subprocess.run(
        [str(BIN / "pyside6-lrelease"), str(ts), "-qm", str(qm)], check=True, capture_output=True
    )


def main() -> int:
    lupdate(TS)
    lrelease(TS, TS.with_suffix(".qm"))
    print(f"updated {TS.relative_to(ROOT)} and {TS.with_suffix('.qm').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
