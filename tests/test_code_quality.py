"""The house rules that tools can check: ruff, and the import contracts of DESIGN.md."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    return str(BIN / name) if (BIN / name).exists() else shutil.which(name) or name


def test_ruff_is_clean():
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_hold():
    result = subprocess.run(
        [_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _python_only(folder: str, names: list[str]) -> list[str]:
    """``copytree`` ignore: keep packages and ``.py`` files, nothing else (models, fonts)."""
    return [n for n in names if not n.endswith(".py") and not (Path(folder) / n).is_dir()]


def test_a_new_module_importing_qt_outside_ui_breaks_the_contract(tmp_path):
    # The contract covers the whole package, so a module written tomorrow is covered too.
    for package in ("jradi_desktop", "engine"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=_python_only)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "jradi_desktop" / "_probe.py").write_text("import PySide6.QtCore\n")
    result = subprocess.run(
        [_tool("lint-imports"), "--no-cache"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "jradi_desktop._probe -> PySide6" in result.stdout
