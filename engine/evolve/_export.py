"""The best trial as files: the merged VLM (HF folder) and its GGUF pair, written atomically.

``WORKSPACE/best/`` holds ``model/`` (a copy of the VLM with the merged language tower, in the
VLM's own layout, LLaVA or Bunny, and ``jradi_recipe.yaml``: the merge recipe with the best
numbers, so ``jradi-engine merge`` rebuilds the same weights), ``gguf/`` (``model.gguf`` with
the vision part beside it: ``mmproj.gguf`` for a LLaVA, the S² ``vision/`` folder for a Bunny,
as ``export-gguf`` writes them) and ``best.json``.
It is built in a hidden staging folder (``.best.partial-PID-…``) and renamed into place; an
export of the same trial that is already there is kept.

One export runs at a time per workspace, under the kernel lock on ``.best.lock`` (dropped when
its process dies, even by SIGKILL). So whoever holds that lock knows that any staging folder
is a killed export's leftover (a whole merged model) and removes it, and that a
``.best.old-PID`` folder is the previous export, moved aside by an export killed before it
put the new one in place: it goes back to ``best/`` if that is missing. Runs, resumes and
exports of the workspace clean up this way first; a worker's export in progress is never
touched, since it holds the lock.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.evolve._settings import EvolveRecipe, ExportSettings
from engine.evolve._storage import FileLock
from engine.merge import RECIPE_FILE, JRadiEvoParams, MergeContext, Recipe, splice_language_tower
from jradi_desktop.contract import (
    BEST_DIR,
    BEST_GGUF_DIR,
    BEST_JSON,
    BEST_MODEL_DIR,
    LOG,
    PROGRESS,
    BestFiles,
    Event,
    StaleExports,
)

JOB = "evolve"


def best_recipe(recipe: EvolveRecipe, params: JRadiEvoParams) -> Recipe:
    """The plain merge recipe (no ``evolve:``) that rebuilds ``params``'s model."""
    return Recipe(
        base=recipe.base,
        models=recipe.models,
        method="jradievo",
        parameters={
            f: list(v) if isinstance(v, tuple) else v for f, v in params.by_family().items()
        },
        dtype=recipe.dtype,
        device=recipe.device,
        seed=recipe.seed,
    )


def _exported(out: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out / BEST_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _remove_leftovers(workspace: Path) -> list[Path]:
    """Under the export lock: remove killed exports' staging folders; restore or remove the
    previous export moved aside. Returns the folders removed."""
    out = workspace / BEST_DIR
    olds = sorted(workspace.glob(f".{BEST_DIR}.old-*"))
    if olds and not out.exists():
        olds.pop().rename(out)  # killed between moving best/ aside and putting the new one in
    removed = [*sorted(workspace.glob(f".{BEST_DIR}.partial-*")), *olds]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def remove_stale_exports(workspace: Path) -> list[Path]:
    """Remove what killed exports left in ``workspace`` (see the module docstring); nothing
    when another process is exporting there now. Returns the folders removed."""
    if not workspace.is_dir():
        return []
    lock = FileLock(workspace / f".{BEST_DIR}.lock")
    if not lock.acquire():
        return []
    try:
        return _remove_leftovers(workspace)
    finally:
        lock.close()


def leftovers_event(removed: list[Path]) -> Event:
    """The log event saying which leftovers :func:`remove_stale_exports` removed."""
    names = ", ".join(p.name for p in removed)
    message = f"removed {len(removed)} unfinished export(s) of a killed run: {names}"
    return StaleExports([str(p) for p in removed]).event(JOB, LOG, message)


def iter_export_best(
    context: MergeContext,
    recipe: EvolveRecipe,
    params: JRadiEvoParams,
    trial: int,
    score: float,
    workspace: Path,
    settings: ExportSettings,
) -> Iterator[Event]:
    """Write ``WORKSPACE/best`` for ``trial``; the last event's data hold the paths."""
    out = workspace / BEST_DIR
    lock = FileLock(workspace / f".{BEST_DIR}.lock")
    if not lock.acquire():
        yield Event(JOB, LOG, f"another worker (pid {lock.holder()}) is exporting to {out}")
        return
    try:
        removed = _remove_leftovers(workspace)
        if removed:
            yield leftovers_event(removed)
        yield from _export(context, recipe, params, trial, score, out, settings)
    finally:
        lock.close()


def _export(
    context: MergeContext,
    recipe: EvolveRecipe,
    params: JRadiEvoParams,
    trial: int,
    score: float,
    out: Path,
    settings: ExportSettings,
) -> Iterator[Event]:
    from engine.export import export_gguf

    workspace = out.parent
    done = _exported(out)
    if done is not None and done.get("trial") == trial:
        yield Event(
            JOB,
            LOG,
            f"best trial {trial} already exported to {out}",
            data=BestFiles.of(out).to_data(),
        )
        return
    stage = Path(tempfile.mkdtemp(prefix=f".{BEST_DIR}.partial-{os.getpid()}-", dir=workspace))
    umask = os.umask(0)
    os.umask(umask)
    stage.chmod(0o777 & ~umask)  # mkdtemp's 0700 would make the exported model private
    gguf = settings.gguf
    try:
        total = 3 if gguf else 2
        yield Event(JOB, PROGRESS, f"exporting trial {trial}: merging", 1, total)
        tower = context.merged_state_dict(params)
        splice_language_tower(recipe.vlm.path, tower, stage / BEST_MODEL_DIR)  # type: ignore[union-attr]
        del tower
        (stage / BEST_MODEL_DIR / RECIPE_FILE).write_text(
            best_recipe(recipe, params).to_yaml(), encoding="utf-8"
        )
        if gguf:
            yield Event(JOB, PROGRESS, f"exporting trial {trial}: GGUF", 2, total)
            export_gguf(
                stage / BEST_MODEL_DIR, stage / BEST_GGUF_DIR, settings.outtype, settings.quantize
            )
        info = {"trial": trial, "score": score, "params": params.to_vector()}
        (stage / BEST_JSON).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        old = None
        if out.exists():
            old = workspace / f".{BEST_DIR}.old-{os.getpid()}"
            out.rename(old)
        os.replace(stage, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    yield BestFiles.of(out).event(
        JOB, PROGRESS, f"best trial {trial} exported to {out}", total, total
    )
