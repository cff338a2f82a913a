"""Start-up time to a shown main window: the frozen folder (and the installed launcher) against
the app run from source, measured the same way and interleaved on the same machine::

    .venv/bin/python packaging/bench_startup.py packaging/dist/clinician/jradi-desktop/jradi-desktop
    .venv/bin/python packaging/bench_startup.py /usr/bin/jradi-desktop --runs 5

Each run: offscreen Qt, a fresh temporary data and settings folder, ``JRADI_PRINT_SHOWN=1``
(the app prints ``{"shown_at": ...}`` when the window is shown) and ``--quit-after 0.2``;
the figure is ``shown_at`` minus the wall-clock time just before the process was started
(the method of ``benchmarks/bench_gui.py``). Prints the median of each, and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

SOURCE = "source"


def shown_after(command: list[str]) -> float:
    """Seconds from process start to the main window shown."""
    with tempfile.TemporaryDirectory(prefix="jradi-bench-") as data:
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "JRADI_PRINT_SHOWN": "1",
            "JRADI_DATA_DIR": data,
            "XDG_CONFIG_HOME": data,
        }
        start = time.time()
        out = subprocess.run(
            [*command, "--quit-after", "0.2"], env=env, capture_output=True, text=True, timeout=120
        )
    lines = [line for line in out.stdout.splitlines() if line.startswith('{"shown_at"')]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"{command[0]} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    shown = json.loads(lines[0])
    if shown["heavy_modules"]:
        raise SystemExit(f"{command[0]} imported {shown['heavy_modules']} before the window")
    return shown["shown_at"] - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("executables", nargs="+", help="frozen jradi-desktop executables")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    commands = {SOURCE: [sys.executable, "-m", "jradi_desktop.ui.app"]}
    commands.update({path: [path] for path in args.executables})
    for command in commands.values():  # warm the page cache and .pyc files once
        shown_after(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            times[name].append(shown_after(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"process start -> main window shown, median of {args.runs} (offscreen)")
    for name, values in times.items():
        runs = ", ".join(f"{v * 1000:.0f}" for v in values)
        ratio = medians[name] / medians[SOURCE]
        print(f"  {medians[name] * 1000:6.0f} ms  {ratio:4.2f}x source  {name}  [{runs}]")
    print(json.dumps({name: round(value * 1000) for name, value in medians.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
