"""The README's demo steps, exactly as written there, in a fresh folder.

The commands are read from README.md's "Models" bullet, so the test and the README cannot
drift apart. The fresh folder holds ``demo/`` (the demo models) while ``demo`` is also the
registered name: ``--model demo`` must mean the registered name.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
STEPS = (
    "jradi-engine demo-models ",
    "jradi-engine export-gguf ",
    "jradi models add ",
    "jradi report ",
)


def readme_demo_commands() -> list[str]:
    """The four demo commands, in order, from the README's "Models" bullet."""
    text = README.read_text(encoding="utf-8")
    bullet = text[text.index("- **Models**") :]
    bullet = bullet[: bullet.index("\n\n")]
    bullet = bullet[bullet.index("`jradi-engine demo-models") :]  # the demo steps start here
    spans = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", bullet)]
    commands = [next(s for s in spans if s.startswith(step)) for step in STEPS]
    assert [spans.index(c) for c in commands] == sorted(spans.index(c) for c in commands)
    return commands


def program(name: str) -> list[str]:
    """The console script beside this interpreter, else the same module through ``-m``."""
    script = Path(sys.executable).parent / name
    if script.is_file():
        return [str(script)]
    return [
        sys.executable,
        "-m",
        {"jradi": "jradi_desktop.cli", "jradi-engine": "engine.cli"}[name],
    ]


def test_the_readme_names_the_four_demo_steps():
    commands = readme_demo_commands()
    assert commands[0] == "jradi-engine demo-models demo --trained"
    assert "--model demo " in commands[3] and commands[3].endswith("--json")


def test_the_readme_names_the_shipped_demo_first():
    text = README.read_text(encoding="utf-8")
    bullet = text[text.index("- **Models**") :]
    bullet = " ".join(bullet[: bullet.index("`jradi-engine demo-models")].split())
    assert "`jradi models add --demo`" in bullet
    assert "`jradi report resources/samples/chest_phantom.dcm --model demo --json`" in bullet


@pytest.mark.slow
def test_the_readme_demo_steps_work_as_written_in_a_fresh_folder(tmp_path):
    from PIL import Image

    cwd = tmp_path / "fresh"
    (cwd / "scans").mkdir(parents=True)
    Image.new("L", (512, 512), 90).save(cwd / "scans" / "chest.png")
    env = {**os.environ, "JRADI_DATA_DIR": str(tmp_path / "data")}
    outputs = []
    for command in readme_demo_commands():
        name, *args = shlex.split(command)
        result = subprocess.run(
            [*program(name), *args], cwd=cwd, env=env, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr, command
        outputs.append(result.stdout)
    assert (cwd / "demo" / "vlm" / "config.json").is_file()  # the trap: a folder named demo
    assert "vision:" in outputs[2]  # models add found the Bunny's vision/ beside model.gguf
    [line] = [json.loads(line) for line in outputs[3].splitlines()]
    assert line["image"] == "scans/chest.png" and line["model"] == "demo"
    assert "error" not in line and line["text"].strip()
