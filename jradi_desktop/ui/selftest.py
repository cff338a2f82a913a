"""``jradi-desktop --self-test``: check an installation end to end, without a screen.

Run by the installer build (on the frozen app and on the installed ``.deb``), by CI and by
an IT department after installing: it opens the bundled synthetic sample DICOM, renders it,
decodes the same pixels re-encoded as JPEG 2000, RLE and JPEG baseline (the pylibjpeg
plugins, found through their entry points, are what a frozen app most easily loses), opens
the main window offscreen and switches its language (the ``.qm`` translations), then drafts
a short report with the bundled demo model through the inference worker process, exactly
as the app does. It prints one line per step with its time and exits 0 only if every step
worked; otherwise it names the failing step and exits 1. Without a console (the windowed
Windows build) the summary goes to ``%TEMP%\\jradi-selftest.txt`` instead.

Nothing of the user's is read or written: the window gets a temporary history, model
registry and settings file.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jradi_desktop._resources import resource_path

if TYPE_CHECKING:
    import numpy as np

    from jradi_desktop.imaging import XrayImage

SAMPLE_NAME = "chest_phantom.dcm"
REPORT_TOKENS = 32
MODEL_LOAD_TIMEOUT = 120.0
HEAVY_MODULES = ("torch", "transformers", "llama_cpp")
__all__ = ["SelfTestError", "run_self_test", "sample_dicom"]


class SelfTestError(Exception):
    """A check that did not hold; the message says what was expected."""


@dataclass
class Step:
    key: str
    ja: str
    en: str
    seconds: float = 0.0
    detail: str = ""
    ok: bool = False


@dataclass
class _State:
    tmp: Path
    in_process: bool = False
    xray: XrayImage | None = None
    steps: list[Step] = field(default_factory=list)


def sample_dicom() -> Path:
    """The bundled synthetic chest radiograph (no patient data)."""
    return resource_path("samples", SAMPLE_NAME)


# -- steps ------------------------------------------------------------------------------------


def _check_varied(pixels: np.ndarray, what: str) -> str:
    import numpy as np

    low, high = float(np.min(pixels)), float(np.max(pixels))
    if not high > low:
        raise SelfTestError(f"{what}: every pixel is {low:g} (expected an image)")
    return f"{low:g}..{high:g}"


def _step_sample(state: _State) -> str:
    from jradi_desktop.imaging import open_image, render

    path = sample_dicom()
    if not path.is_file():
        raise SelfTestError(f"sample DICOM not found: {path}")
    xray = open_image(path)
    if "花子" not in (xray.patient_name_ideographic or ""):
        raise SelfTestError(
            f"ISO 2022 IR 87 patient name not decoded: {xray.patient_name_ideographic!r}"
        )
    shown = render(xray)
    span = _check_varied(shown, "rendered sample")
    state.xray = xray
    return f"{xray.columns}x{xray.rows} {xray.transfer_syntax_name}, display {span}"


def _encoded_samples(state: _State) -> list[tuple[str, Path, np.ndarray, bool]]:
    """The sample's pixels (downsampled) as JPEG 2000, RLE and JPEG baseline files."""
    import numpy as np
    import pydicom
    from PIL import Image
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit, RLELossless

    source = pydicom.dcmread(sample_dicom())
    pixels = np.ascontiguousarray(source.pixel_array[::4, ::4])
    bits = int(source.BitsStored)
    out: list[tuple[str, Path, np.ndarray, bool]] = []
    for name, syntax, plugin in (
        ("JPEG 2000", JPEG2000Lossless, "pylibjpeg"),
        ("RLE", RLELossless, "pydicom"),
    ):
        ds = pydicom.dcmread(sample_dicom())
        ds.set_pixel_data(pixels, "MONOCHROME2", bits)
        ds.compress(syntax, encoding_plugin=plugin)
        path = state.tmp / f"{syntax.keyword}.dcm"
        ds.save_as(path, enforce_file_format=True)
        out.append((name, path, pixels, True))
    grey = (pixels >> (bits - 8)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, format="JPEG", quality=95)
    ds = pydicom.dcmread(sample_dicom())
    ds.set_pixel_data(grey, "MONOCHROME2", 8)
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.LossyImageCompression = "01"
    path = state.tmp / "JPEGBaseline8Bit.dcm"
    ds.save_as(path, enforce_file_format=True)
    out.append(("JPEG baseline", path, grey, False))
    return out


def _step_decoders(state: _State) -> str:
    import numpy as np
    import pydicom
    from pydicom.pixels import get_decoder, pixel_array

    from jradi_desktop.imaging import open_image

    done = []
    for name, path, expected, lossless in _encoded_samples(state):
        uid = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
        plugins = get_decoder(uid).available_plugins
        if "pylibjpeg" not in plugins:
            raise SelfTestError(f"{name}: pylibjpeg decoder missing (available: {plugins})")
        decoded = pixel_array(path, decoding_plugin="pylibjpeg")
        if decoded.shape != expected.shape:
            raise SelfTestError(f"{name}: decoded {decoded.shape}, expected {expected.shape}")
        error = float(np.abs(decoded.astype(np.int32) - expected.astype(np.int32)).mean())
        if (lossless and error != 0) or error > 3:
            raise SelfTestError(f"{name}: decoded pixels differ (mean abs error {error:.2f})")
        xray = open_image(path)  # the app's own path, whichever plugin pydicom prefers
        _check_varied(xray.pixels, f"{name} through open_image")
        done.append(name)
    return ", ".join(done) + " (pylibjpeg)"


def _step_window(state: _State) -> str:
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QFontDatabase
    from PySide6.QtWidgets import QApplication

    from jradi_desktop.models import ModelRegistry
    from jradi_desktop.store import Database, History
    from jradi_desktop.ui.fonts import bundled_font_families
    from jradi_desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0], "-platform", "offscreen"])
    bundled = bundled_font_families()
    japanese = QFontDatabase.families(QFontDatabase.WritingSystem.Japanese)
    fonts = [f for f in bundled if f in japanese]
    if not fonts:
        raise SelfTestError("the bundled Japanese font (resources/fonts) is missing or unusable")
    settings = QSettings(str(state.tmp / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        history=History(Database(state.tmp / "history.sqlite3")),
        registry=ModelRegistry(state.tmp / "models.json"),
        settings=settings,
    )
    try:
        window.show()
        window.show_image(state.xray)
        app.processEvents()
        grabbed = window.viewer.grab().toImage()
        width, height = grabbed.width(), grabbed.height()
        grid = {
            grabbed.pixel(x * width // 24, y * height // 24) for x in range(24) for y in range(24)
        }
        if len(grid) < 4:
            raise SelfTestError(f"viewer shows {len(grid)} colour(s): the image was not drawn")
        window.set_language("en")
        english = window.tabs.tabText(0)
        window.set_language("ja")
        if english != "Report" or window.tabs.tabText(0) != "レポート":
            raise SelfTestError(f"translation not applied: tab reads {english!r} in English")
        loaded = [name for name in HEAVY_MODULES if name in sys.modules]
        if loaded:
            raise SelfTestError(f"the GUI process imported {', '.join(loaded)}")
        platform = app.platformName()
    finally:
        window.close()
        app.processEvents()
    return f"platform {platform}, viewer {width}x{height}, ja/en, font {fonts[0]}"


def _step_report(state: _State) -> str:
    from jradi_desktop.inference import GenerationParams, InferenceWorker, create_backend
    from jradi_desktop.pipeline import generate_report
    from jradi_desktop.ui.demo_install import bundled_demo

    spec = bundled_demo()
    if spec is None:
        raise SelfTestError(
            "demo model not found (resources/demo-model/ or demo-model/ beside the executable: "
            "model.gguf + vision/ or mmproj.gguf; or JRADI_DEMO_MODEL_DIR)"
        )
    first: list[float] = []
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if state.in_process:  # a CPU emulator (qemu-user) does not follow a child process
            generator = create_backend(spec)
            stack.callback(generator.close)
            backend, runtime = generator.name, generator.runtime
        else:
            generator = stack.enter_context(InferenceWorker(spec))
            if not generator.wait_ready(timeout=MODEL_LOAD_TIMEOUT):
                raise SelfTestError(f"model not loaded within {MODEL_LOAD_TIMEOUT:g} s")
            backend = generator.info.get("backend", "?")
            runtime = generator.info.get("runtime", "")
        loaded = time.perf_counter()
        result = generate_report(
            generator,
            state.xray,
            model_name=spec.name,
            params=GenerationParams(max_new_tokens=REPORT_TOKENS),
            on_piece=lambda _piece: first or first.append(time.perf_counter()),
        )
        tokens = generator.generated_tokens
    if not result.text.strip():
        raise SelfTestError("the model returned an empty report")
    preview = " ".join(result.text.split())[:40]
    first_ms = (first[0] - loaded) * 1000 if first else float("nan")
    where = "in process" if state.in_process else "worker process"
    return (
        f"{backend} ({where}; {runtime or 'no CPU detail'}): load {(loaded - start) * 1000:.0f} "
        f"ms, first text {first_ms:.0f} ms, {tokens} tokens in {result.seconds * 1000:.0f} ms: "
        f"「{preview}」"
    )


STEPS: list[tuple[str, str, str, Callable[[_State], str]]] = [
    ("sample", "サンプルDICOMを開いて表示", "open and render the sample DICOM", _step_sample),
    ("decoders", "圧縮DICOMの復号", "decode JPEG 2000 / RLE / JPEG DICOM", _step_decoders),
    ("window", "メインウィンドウと翻訳", "main window and translations", _step_window),
    ("report", "デモモデルでレポート生成", "draft a report with the demo model", _step_report),
]


# -- driver -----------------------------------------------------------------------------------


def log_path() -> Path:
    """Where the summary goes when there is no console (the windowed Windows build)."""
    return Path(tempfile.gettempdir()) / "jradi-selftest.txt"


def _print(text: str = "") -> None:
    if sys.stdout is not None:
        print(text, flush=True)
    else:  # a windowed Windows executable has no console: keep the summary in a file
        with log_path().open("a", encoding="utf-8") as log:
            log.write(text + "\n")


def _flavour() -> str:
    hf = importlib.util.find_spec("torch") is not None
    frozen = "frozen" if getattr(sys, "frozen", False) else "source"
    return f"{frozen}, full-precision backend {'available' if hf else 'not installed'}"


def run_self_test(*, in_process: bool = False) -> int:
    """Run every step; 0 if all worked, 1 (naming the failing step) otherwise.

    ``in_process``: the report step loads the model in this process instead of the worker
    child (for ``qemu-x86_64 -cpu Haswell``, which emulates one process: a child started by
    ``execve`` would run on the real CPU)."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt loads: no screen needed
    if sys.stdout is None:
        log_path().unlink(missing_ok=True)
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(errors="replace")
    started = time.perf_counter()
    _print(f"JRadi Desktop 自己診断 / self-test ({_flavour()})")
    with tempfile.TemporaryDirectory(prefix="jradi-selftest-") as tmp:
        state = _State(Path(tmp), in_process=in_process)
        for key, ja, en, run in STEPS:
            step = Step(key, ja, en)
            state.steps.append(step)
            begin = time.perf_counter()
            try:
                step.detail = run(state)
                step.ok = True
            except Exception as exc:
                step.detail = f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, SelfTestError):
                    step.detail += "\n" + traceback.format_exc()
            step.seconds = time.perf_counter() - begin
            mark = "OK  " if step.ok else "FAIL"
            _print(f"  [{mark}] {key:<8} {ja} / {en}: {step.seconds * 1000:7.0f} ms")
            _print(f"         {step.detail}")
            if not step.ok:
                break
    total = time.perf_counter() - started
    failed = [s for s in state.steps if not s.ok]
    if failed:
        _print(f"失敗 / FAILED at step '{failed[0].key}' ({failed[0].en}), {total:.1f} s")
        return 1
    _print(f"合格 / PASSED: {len(state.steps)} steps in {total:.1f} s")
    return 0


if __name__ == "__main__":  # python -m jradi_desktop.ui.selftest
    sys.exit(run_self_test())
