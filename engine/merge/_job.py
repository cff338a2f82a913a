"""The merge job: recipe -> checks -> merge (JRadiEvo or mergekit) -> output folder.

The output is written into a hidden staging folder beside ``out_dir`` and renamed at the end,
so a failed or cancelled merge leaves nothing half-written, and an existing non-empty folder
is never overwritten. A VLM recipe gives a copy of the VLM with the merged language tower, in
the VLM's own layout (a LLaVA loads with ``AutoModelForImageTextToText``, a Bunny with
``load_bunny``); otherwise a copy of the base's folder with
merged weights (a Llama), in the source's dtypes. The recipe, with absolute paths, is saved
beside the weights as ``jradi_recipe.yaml``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine import devices
from engine._hf_folder import check_weights_match_config
from engine.merge._context import MergeContext
from engine.merge._errors import MergeError
from engine.merge._io import open_model_folder
from engine.merge._mergekit import mergekit_configuration, run_mergekit
from engine.merge._recipe import RECIPE_FILE, Recipe, load_recipe
from engine.merge._vlm import extract_language_tower, splice_language_tower, write_language_copy
from jradi_desktop.architectures import architectures
from jradi_desktop.contract import LOG, PROGRESS, RESULT, Event

JOB = "merge"
_SAFETENSORS_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; refuse an absent GPU."""
    return devices.resolve_device(device, MergeError)


def check_folders(recipe: Recipe) -> None:
    """Every folder opens, its config agrees with its tensors' shapes (headers only), the VLM
    has an image path and the others are Llamas: one report."""
    problems = []
    entries = [("base", recipe.base, "llm"), *(("model", m.path, m.role) for m in recipe.models)]
    for label, path, role in entries:
        try:
            folder = open_model_folder(path)
            check_weights_match_config(folder.config, folder.files, MergeError)
        except MergeError as exc:
            problems.append(f"{label}: {exc}")
            continue
        arch = folder.architecture
        if role == "vlm" and not arch.has_vision:
            problems.append(
                f"{label} {path}: role vlm, but it is a plain Llama, not a VLM "
                f"({'; '.join(a.description for a in architectures() if a.has_vision)})"
            )
        elif role == "llm" and arch.has_vision:
            what = "the base must be a Llama" if label == "base" else "give it role: vlm"
            problems.append(f"{label} {path}: a VLM ({arch.description}); {what}")
    if problems:
        raise MergeError("the recipe's folders have problems:\n- " + "\n- ".join(problems))


def _stored_dtype(folder: Path) -> str:
    from safetensors import safe_open

    model = open_model_folder(folder)
    path, raw = model.stored[next(iter(model.language.values()))]
    with safe_open(str(path), framework="pt") as f:
        code = f.get_slice(raw).get_dtype()
    return _SAFETENSORS_DTYPES.get(code, "float32")


def _write(recipe: Recipe, tower: Path | dict, stage: Path) -> None:
    vlm = recipe.vlm
    if vlm is not None:
        splice_language_tower(vlm.path, tower, stage)
    else:
        write_language_copy(recipe.base, tower, stage)


def _jradievo(recipe: Recipe, stage: Path, device: str) -> Iterator[Event]:
    yield Event(JOB, PROGRESS, "reading the base and the models", 1, 3)
    models = [m.path for m in recipe.models]
    numel = open_model_folder(recipe.base).language_numel()
    size = {"float32": 4, "float16": 2, "bfloat16": 2}[recipe.dtype]
    need = numel * (size * len(models) + 2 * 4)  # task vectors + base and result (<= float32)
    yield Event(
        JOB,
        LOG,
        f"holding about {need / 1e9:.1f} GB ({len(models)} task vectors in "
        f"{recipe.dtype}, the base and the result); dtype: float16 halves the task vectors",
        1,
        3,
        {"bytes": need, "parameters": numel},
    )
    ctx = MergeContext.from_folders(
        recipe.base, models, dtype=recipe.dtype, device=device, seed=recipe.seed
    )
    target = ctx.empty_target()
    total = 3
    for event in ctx.iter_merge_into(target, recipe.jradievo_params()):
        total = event.total + 2
        if event.kind == PROGRESS:
            yield Event(JOB, PROGRESS, f"merging: {event.message}", event.step + 1, total)
        else:
            yield Event(JOB, LOG, "merge statistics", event.step + 1, total, event.data)
    yield Event(JOB, PROGRESS, "writing the merged model", total, total)
    _write(recipe, target, stage)


def _mergekit(recipe: Recipe, stage: Path, device: str, work: Path) -> Iterator[Event]:
    models = []
    for m in recipe.models:
        if m.role == "vlm":
            yield Event(JOB, PROGRESS, "extracting the VLM's language tower", 1, 3)
            models.append(extract_language_tower(m.path, work / "vlm-tower"))
        else:
            models.append(m.path)
    config = mergekit_configuration(
        recipe.method,
        recipe.base,
        models,
        recipe.parameters,
        dtype=recipe.dtype,
        out_dtype=_stored_dtype(recipe.base),
    )
    yield Event(JOB, PROGRESS, f"mergekit {recipe.method}", 2, 3)
    seed = recipe.seed if recipe.method == "dare_ties" else None
    if recipe.vlm is None:
        run_mergekit(config, stage, device=device, seed=seed)
        return
    merged = run_mergekit(config, work / "merged-tower", device=device, seed=seed)
    yield Event(JOB, PROGRESS, "splicing the merged tower into the VLM", 3, 3)
    _write(recipe, merged, stage)


def iter_merge(recipe: Recipe | str | Path, out_dir: str | Path) -> Iterator[Event]:
    """Run a merge recipe (a ``Recipe`` or a YAML file) into ``out_dir``, yielding events."""
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    out = Path(out_dir).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MergeError(
            f"{out}: already exists and is not an empty folder; choose a new output folder "
            "(a merge never overwrites one)."
        )
    check_folders(recipe)
    device = resolve_device(recipe.device)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    stage.chmod(0o777 & ~umask)  # mkdtemp's 0700 would make the merged model private
    try:
        with tempfile.TemporaryDirectory(prefix=f".{out.name}.work-", dir=out.parent) as work:
            if recipe.method == "jradievo":
                yield from _jradievo(recipe, stage, device)
            else:
                yield from _mergekit(recipe, stage, device, Path(work))
        (stage / RECIPE_FILE).write_text(recipe.to_yaml(), encoding="utf-8")
        if out.exists():
            out.rmdir()
        os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    data: dict[str, Any] = {
        "out_dir": str(out),
        "method": recipe.method,
        "vlm": recipe.vlm is not None,
        "recipe": str(out / RECIPE_FILE),
    }
    yield Event(JOB, RESULT, f"merged model written to {out}", 1, 1, data)


def merge(recipe: Recipe | str | Path, out_dir: str | Path) -> Path:
    """Run ``iter_merge`` to its end and return the output folder."""
    for _ in iter_merge(recipe, out_dir):
        pass
    return Path(out_dir)
