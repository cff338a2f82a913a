"""``jradi-desktop``: start the clinician application.

The window is shown before any heavy library (torch, transformers, llama_cpp) is imported:
those load in the inference worker process, never in the GUI process.
"""

from __future__ import annotations

import argparse
import os
import sys

NO_DISPLAY = (
    "jradi-desktop: 画面（ディスプレイ）が見つかりません。デスクトップ環境で起動するか、"
    "xvfb-run jradi-desktop で仮想画面を使ってください。\n"
    "jradi-desktop: no display found. Start it from a desktop session, or use a virtual "
    "screen: xvfb-run jradi-desktop (or QT_QPA_PLATFORM=offscreen for tests)."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jradi-desktop", description="JRadi Desktop")
    parser.add_argument("paths", nargs="*", help="images or folders to open")
    parser.add_argument("--language", choices=["ja", "en"], help="UI language (default: last used)")
    parser.add_argument(
        "--quit-after",
        type=float,
        metavar="SECONDS",
        help="close the window after this many seconds (smoke tests, screenshots)",
    )
    parser.add_argument("--screenshot", metavar="PNG", help="save the window before quitting")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation without a screen (sample DICOM, decoders, window, "
        "a report from the bundled demo model) and exit 0 if all worked",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="with --self-test: run the demo model in this process, not the worker child "
        "(to check the app under a CPU emulator such as qemu-x86_64 -cpu Haswell)",
    )
    return parser


def _has_display() -> bool:
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


HEAVY_MODULES = ("torch", "transformers", "llama_cpp")


def _print_shown() -> None:
    import json
    import time

    loaded = [name for name in HEAVY_MODULES if name in sys.modules]
    print(json.dumps({"shown_at": time.time(), "heavy_modules": loaded}), flush=True)


def main(argv: list[str] | None = None) -> int:
    import multiprocessing

    multiprocessing.freeze_support()  # the inference worker is a spawned child (PyInstaller)
    args = build_parser().parse_args(argv)
    if args.self_test:  # before any window: it runs offscreen
        from jradi_desktop.ui.selftest import run_self_test

        return run_self_test(in_process=args.in_process)
    if not _has_display():
        print(NO_DISPLAY, file=sys.stderr)
        return 1
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from jradi_desktop.ui.fonts import bundled_font_families
    from jradi_desktop.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("JRadi Desktop")
    app.setOrganizationName("JRadi")
    bundled_font_families()  # Japanese renders even where the system has no Japanese font
    window = MainWindow()
    language = args.language or str(window.settings.value("language", "ja"))
    if language != "ja":
        window.set_language(language)
    window.show()
    if window.history.notice is not None:  # the window shows it too; this is for the log
        print(f"jradi-desktop: {window.history.notice}", file=sys.stderr, flush=True)
    if os.environ.get("JRADI_PRINT_SHOWN"):  # start-up benchmark and test hook
        QTimer.singleShot(0, _print_shown)
    QTimer.singleShot(0, window.session.offer_draft_back)
    if args.paths:
        window.open_paths(args.paths)
    if args.quit_after is not None:

        def finish() -> None:
            if args.screenshot:
                window.grab().save(args.screenshot)
            window.close()
            app.quit()

        QTimer.singleShot(int(args.quit_after * 1000), finish)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
