"""The files the wizard keeps in a workspace beside the engine's (whose layout is in
``jradi_desktop.contract``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jradi_desktop.atomic_file import replace_atomically
from jradi_desktop.contract import BEST_DIR, BEST_JSON, RECIPE_FILE, BestFiles

EVOLVE_RECIPE = "evolve_recipe.yaml"  # what the wizard wrote; the engine writes RECIPE_FILE
LORA_CONFIG = "lora_wizard.yaml"  # the engine keeps its own lora_config.yaml to check resumes
WIZARD_FILE = "jradi_wizard.json"  # the storage URL and the study name of an evolution


def dump_yaml(data: dict[str, Any]) -> str:
    """YAML when PyYAML is there (it is wherever the engine runs), else JSON (valid YAML)."""
    try:
        import yaml
    except ImportError:
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def load_yaml(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        import yaml

        data = yaml.safe_load(text)
    except ImportError:
        try:
            data = json.loads(text)
        except ValueError:
            return None
    except Exception:
        return None
    return data if isinstance(data, dict) else None


def write_wizard_state(workspace: Path, **values: Any) -> None:
    state = read_wizard_state(workspace)
    state.update(values)
    text = json.dumps(state, ensure_ascii=False, indent=2) + "\n"
    workspace.mkdir(parents=True, exist_ok=True)
    replace_atomically(workspace / WIZARD_FILE, text)  # private: it may hold a DB password


def read_wizard_state(workspace: Path) -> dict[str, Any]:
    try:
        data = json.loads((workspace / WIZARD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def evolve_recipe_of(workspace: Path) -> dict[str, Any] | None:
    """The recipe of an evolution workspace: the wizard's, else the engine's resolved one."""
    for name in (EVOLVE_RECIPE, RECIPE_FILE):
        data = load_yaml(workspace / name)
        if data is not None and "evolve" in data:
            return data
    return None


def best_export(workspace: Path) -> BestFiles | None:
    """The files of an evolution's exported best trial (None until ``best.json`` is there)."""
    best = workspace / BEST_DIR
    try:
        json.loads((best / BEST_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return BestFiles.of(best)
