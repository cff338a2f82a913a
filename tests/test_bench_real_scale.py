"""A smoke run of benchmarks/bench_real_scale.py at tiny widths (the real ones need ~6 GiB)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_real_scale.py"
TINY = [
    "--layers", "1", "--vision-layers", "1", "--trials", "1",
    "--hidden", "64", "--intermediate", "128", "--vocab", "512", "--heads", "4",
    "--kv-heads", "2", "--vision-hidden", "32", "--vision-intermediate", "64",
    "--vision-heads", "2", "--image-size", "28", "--rows", "2", "--text-tokens", "8",
    "--new-tokens", "3", "--dev-images", "4", "--dev-tokens", "8", "--threads", "1",
]  # fmt: skip


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_tiny_run_prints_every_phase_and_naive_agrees_with_the_engine():
    done = run(*TINY)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for label in ("merge, engine", "merge, naive", "S², one image", "prefill 2 x 12", "lm_head"):
        assert label in out
    assert "one trial, whole model (extrapolated)" in out
    assert "peak RSS" in out
    # with p = 0 both merges use the same masks: they differ only where the engine patched ties
    differ, ties = re.search(r"(\d+) elements differ.*patched: (\d+)", out).groups()
    assert differ == ties


def test_refuses_a_run_over_the_memory_limit():
    done = run("--layers", "4", "--max-gib", "8")
    assert done.returncode == 2
    assert "--layers 4 needs about" in done.stderr and "use fewer --layers" in done.stderr
