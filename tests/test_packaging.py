"""The installer's sources, checked without building (packaging/build.sh builds; see
docs/adr/0007-packaging.md), and ``jradi-desktop --self-test`` run from source."""

from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "jradi.spec"
BUILD = PACKAGING / "build.sh"
DESKTOP = PACKAGING / "linux" / "jradi-desktop.desktop"
MIME = PACKAGING / "linux" / "jradi-desktop-mime.xml"


def _spec_list(name: str) -> list[str]:
    """A module-level list of string constants assigned in the spec."""
    for node in ast.parse(SPEC.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return [ast.literal_eval(element) for element in node.value.elts]
    raise AssertionError(f"{name} not assigned in {SPEC.name}")


# -- PyInstaller spec ------------------------------------------------------------------------


def test_spec_compiles_as_python():
    compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec")


def test_spec_keeps_the_hf_stack_out_of_the_clinician_build():
    hf_stack = _spec_list("HF_STACK")
    for module in ("torch", "transformers", "engine", "tokenizers", "accelerate", "peft"):
        assert module in hf_stack
    text = SPEC.read_text(encoding="utf-8")
    assert 'EXCLUDES = ALWAYS_EXCLUDED + (HF_STACK if FLAVOUR == "clinician" else [])' in text


def test_spec_drops_unused_qt_modules():
    excluded = _spec_list("ALWAYS_EXCLUDED")
    for module in ("PySide6.QtWebEngineCore", "PySide6.Qt3DCore", "PySide6.QtQuick",
                   "PySide6.QtQml", "PySide6.QtMultimedia"):  # fmt: skip
        assert module in excluded


def test_spec_bundles_what_the_frozen_app_reads():
    text = SPEC.read_text(encoding="utf-8")
    for needle in ('"*.qm"', "chest_phantom.dcm", '"demo-model"', '"llama_cpp/lib"',
                   '"pylibjpeg-libjpeg"', '"pylibjpeg-openjpeg"', '"pylibjpeg-rle"',
                   '"resources" / "demo-model"', '"demo-model/vision"',
                   '"onnxruntime"'):  # fmt: skip
        assert needle in text
    # onnxruntime (the demo Bunny's vision encoder) and what it needs are never excluded
    excluded = _spec_list("ALWAYS_EXCLUDED") + _spec_list("HF_STACK")
    for module in ("onnxruntime", "numpy", "google", "protobuf", "flatbuffers", "packaging"):
        assert module not in excluded
    assert "onnxruntime/capi" in BUILD.read_text(encoding="utf-8")  # checked in the folder
    for path in ("entry_desktop.py", "entry_engine.py", "hooks/hook-PySide6.QtGui.py"):
        assert (PACKAGING / path).is_file()


def test_qt_hook_override_compiles():
    hook = PACKAGING / "hooks" / "hook-PySide6.QtGui.py"
    compile(hook.read_text(encoding="utf-8"), str(hook), "exec")


# -- build script ----------------------------------------------------------------------------


def test_build_script_is_executable_and_strict():
    assert os.access(BUILD, os.X_OK)
    lines = BUILD.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    subprocess.run(["bash", "-n", str(BUILD)], check=True)


@pytest.mark.parametrize("args", [[], ["windows"], ["clinician", "full"]])
def test_build_script_refuses_a_wrong_flavour(args):
    result = subprocess.run(["bash", str(BUILD), *args], capture_output=True, text=True)
    assert result.returncode == 2
    assert "usage:" in result.stderr


# -- Linux desktop integration ---------------------------------------------------------------


def test_desktop_entry_has_the_required_keys():
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "JRadi Desktop"
    assert any(ord(c) > 0x3000 for c in entry["Name[ja]"])  # Japanese
    assert any(ord(c) > 0x3000 for c in entry["Comment[ja]"])
    assert entry["Exec"].split()[0] == "jradi-desktop"
    assert "%F" in entry["Exec"] or "%f" in entry["Exec"]
    assert entry["Icon"] == "jradi-desktop"
    assert entry["Terminal"] == "false"
    assert "application/dicom" in entry["MimeType"].split(";")
    assert entry["Categories"].endswith(";")


def test_desktop_entry_validates():
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        pytest.skip("desktop-file-validate not installed (Debian: desktop-file-utils)")
    result = subprocess.run([validate, str(DESKTOP)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout


def test_mime_xml_associates_dcm_files():
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    root = ET.parse(MIME).getroot()
    (mime,) = root.findall("m:mime-type", ns)
    assert mime.get("type") == "application/dicom"
    assert [g.get("pattern") for g in mime.findall("m:glob", ns)] == ["*.dcm"]
    match = mime.find("m:magic/m:match", ns)
    assert (match.get("value"), match.get("offset")) == ("DICM", "128")


def test_icons_exist_in_every_installed_size():
    from PIL import Image

    icons = PACKAGING / "icons"
    assert (icons / "jradi-desktop.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    with Image.open(icons / "jradi-desktop.png") as image:
        assert image.size == (256, 256)
    for size in (16, 32, 48, 64, 128):
        with Image.open(icons / f"jradi-desktop-{size}.png") as image:
            assert image.size == (size, size)
    with Image.open(icons / "jradi-desktop.ico") as image:
        assert image.format == "ICO"


def test_deb_depends_finds_system_libraries(tmp_path):
    if not all(shutil.which(tool) for tool in ("readelf", "objdump", "dpkg", "ldconfig")):
        pytest.skip("needs a Debian system with binutils")
    import llama_cpp

    lib = Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"
    shutil.copy(lib, tmp_path / "libggml-base.so.0")
    result = subprocess.run(
        [sys.executable, str(PACKAGING / "linux" / "deb_depends.py"), str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    depends = result.stdout.strip().split(", ")
    assert depends[0].startswith("libc6 (>= 2.")
    assert any(d.startswith("libgomp") for d in depends)  # OpenMP, not bundled here


# -- Windows and macOS (not built here) -----------------------------------------------------


def test_inno_setup_script_installs_the_folder_and_associates_dcm():
    text = (PACKAGING / "windows" / "jradi.iss").read_text(encoding="utf-8")
    for needle in ("[Setup]", "AppId=", "[Files]", "recursesubdirs", "Japanese.isl",
                   r"Software\Classes\.dcm\OpenWithProgids", "jradi-desktop.ico"):  # fmt: skip
        assert needle in text


# -- the self-test ---------------------------------------------------------------------------


def _desktop_command() -> list[str]:
    script = Path(sys.executable).with_name("jradi-desktop")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "jradi_desktop.ui.app"]


def _run_self_test(env_update: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("JRADI_DEMO_MODEL_DIR", "DISPLAY")}
    env.update(env_update)
    return subprocess.run(
        [*_desktop_command(), "--self-test"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_self_test_option_is_parsed():
    from jradi_desktop.ui.app import build_parser

    assert build_parser().parse_args(["--self-test"]).self_test
    assert not build_parser().parse_args([]).self_test


@pytest.mark.slow
def test_self_test_passes_from_source(trained_gguf, tmp_path):
    folder = trained_gguf["vlm"].parent
    assert (folder / "mmproj.gguf").is_file()
    result = _run_self_test({"JRADI_DEMO_MODEL_DIR": str(folder)}, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for step in ("sample", "decoders", "window", "report"):
        assert f"[OK  ] {step}" in result.stdout
    assert "PASSED" in result.stdout


@pytest.mark.slow
def test_self_test_passes_from_source_with_the_shipped_demo_bunny(tmp_path):
    result = _run_self_test({}, tmp_path)  # resources/demo-model/: model.gguf + vision/
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[OK  ] report" in result.stdout and "PASSED" in result.stdout


@pytest.mark.gui
def test_self_test_names_the_failing_step(tmp_path):
    empty = tmp_path / "no-demo"  # the override is the only place looked at
    empty.mkdir()
    result = _run_self_test({"JRADI_DEMO_MODEL_DIR": str(empty)}, tmp_path)
    assert result.returncode == 1
    assert "[FAIL] report" in result.stdout
    assert "FAILED at step 'report'" in result.stdout
    assert "demo model not found" in result.stdout


def test_a_frozen_app_starts_engine_jobs_with_the_bundled_engine_executable(monkeypatch):
    import sys

    from jradi_desktop.ui.engine_command import engine_command

    assert engine_command("demo-models", "out")[1][:2] == ["-m", "engine.cli"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/jradi-desktop/jradi-desktop")
    program, arguments = engine_command("demo-models", "out")
    assert program == "/opt/jradi-desktop/jradi-engine"
    assert arguments == ["demo-models", "out", "--events", "jsonl"]
