"""What the evolve tests share: the demo recipe, the study's trials by state, and a run
SIGKILLed when a given trial starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import yaml

MODELS = ("vlm", "med-a", "med-b", "ja")  # the VLM's tower + the three LLMs, as in JRadiEvo
FAST = {"max_new_tokens": 12, "batch_size": 8}


def write_recipe(folder: Path, demo_dir: Path, dev: Path, **evolve: object) -> Path:
    recipe = {
        "base": str(demo_dir / "base"),
        "models": [
            {"path": str(demo_dir / m), "role": "vlm" if m == "vlm" else "llm"} for m in MODELS
        ],
        "device": "cpu",
        "evolve": {"data": str(dev), **FAST, **evolve},
    }
    path = folder / "evolve.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    return path


def study_trials(workspace: Path, name: str = "jradievo", url: str | None = None) -> list:
    import optuna

    url = url or f"sqlite:///{workspace / 'study.sqlite3'}"
    url = url.replace("postgresql://", "postgresql+psycopg://")
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def states(trials: list) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for t in trials:
        out.setdefault(t.state.name, []).append(t.number)
    return out


def killed_when_trial_starts(command: list[str], trial: int) -> list[dict]:
    """Run ``command`` (an ``--events jsonl`` run), SIGKILL it when ``trial`` starts; the
    events' data it wrote until then."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, encoding="utf-8")
    assert child.stdout is not None
    seen = []
    for line in child.stdout:
        seen.append(json.loads(line)["data"])
        if seen[-1].get("event") == "trial-started" and seen[-1]["trial"] == trial:
            os.kill(child.pid, signal.SIGKILL)
            break
    assert child.wait(timeout=60) == -signal.SIGKILL
    return seen
