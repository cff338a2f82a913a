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


# Imports of another package's private module (``pkg._mod``, ``from pkg import _mod``) from
# outside ``pkg``: each named here with why. Tests and benchmarks may reach in.
PRIVATE_IMPORTS_ALLOWED: dict[tuple[str, str], str] = {}


def _private_imports(package: str) -> list[tuple[str, str]]:
    """(importing module, imported private name) for every import in ``package`` that reaches
    into a private module or name of a package the importer is not inside."""
    import ast

    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        importer = ".".join(parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                names = target.split(".")
                private = [i for i, n in enumerate(names) if n.startswith("_")
                           and not n.startswith("__")]  # fmt: skip
                if not private or names[0] not in ("jradi_desktop", "engine"):
                    continue
                owner = ".".join(names[: private[0]])
                if importer != owner and not importer.startswith(owner + "."):
                    found.append((importer, ".".join(names[: private[0] + 1])))
    return found


def test_no_package_imports_another_packages_private_modules():
    found = [
        imp
        for package in ("jradi_desktop", "engine")
        for imp in _private_imports(package)
        if imp not in PRIVATE_IMPORTS_ALLOWED
    ]
    assert not found, "import the package's public names instead: " + ", ".join(
        f"{importer} -> {target}" for importer, target in found
    )
