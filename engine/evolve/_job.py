"""``iter_evolve``: recipe → dev set → study (resumed) → trials → best model → summary.

The workspace holds the default SQLite study (``study.sqlite3``), ``recipe.yaml`` (the
resolved recipe), ``trials/NNNNN.jsonl`` (each trial's generated texts and scores),
``best/`` (the exported best model) and ``summary/`` (tables, best.json, scores.png). A run
stops when the study holds ``n_trials`` COMPLETE trials, however many runs (or workers) it
took; a run on a finished study only writes what is missing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.evolve._errors import EvolveError
from engine.evolve._export import iter_export_best, leftovers_event, remove_stale_exports
from engine.evolve._fitness import ReportFitness
from engine.evolve._run import JOB, TrialRunner, counts
from engine.evolve._settings import EvolveRecipe, load_evolve_recipe
from engine.evolve._space import SearchSpace, make_pruner, make_sampler
from engine.evolve._storage import (
    StudyStorage,
    fail_orphaned_trials,
    fail_stale_trials,
    open_storage,
    safe_url,
)
from engine.evolve._summary import SUMMARY_DIR, write_summary
from engine.evolve._vlm import vlm_family
from engine.merge import MergeContext, check_folders, resolve_device
from jradi_desktop.atomic_file import replace_atomically
from jradi_desktop.contract import (
    LOG,
    RECIPE_FILE,
    RESULT,
    BestFiles,
    DevSetRead,
    Event,
    EvolveResult,
    ImageRows,
    StudyOpened,
    WaitingForWorkers,
)

if TYPE_CHECKING:
    from engine.data import ReportSet


def _check_space(study: Any, space: SearchSpace, recipe: EvolveRecipe) -> None:
    """Refuse to resume a study made for another search space or other models."""
    wanted = {
        "search_space": {name: list(bounds) for name, bounds in space.bounds.items()},
        "models": [str(m.path) for m in recipe.models],
    }
    attrs = study.user_attrs
    if "search_space" not in attrs:
        for key, value in wanted.items():
            study.set_user_attr(key, value)
        return
    for key, value in wanted.items():
        if attrs.get(key) != value:
            raise EvolveError(
                f"study {study.study_name!r} was started with other {key.replace('_', ' ')} "
                f"({attrs.get(key)}; this recipe: {value}). Resume it with its own recipe, or "
                "start a new study: a new --workspace, or another --study-name."
            )


def _context(recipe: EvolveRecipe, device: str) -> MergeContext:
    settings = recipe.evolve
    return MergeContext.from_folders(
        recipe.base,
        [m.path for m in recipe.models],
        dtype=recipe.dtype,
        device=device,
        storage=settings.storage,
        base_storage=settings.base_storage,
        seed=recipe.seed,
    )


def _load(recipe: EvolveRecipe, pairs: list, device: str) -> Generator[Event, None, ReportFitness]:
    """Read the task vectors and load the VLM with the dev images; returns the fitness."""
    settings = recipe.evolve
    yield Event(JOB, LOG, "reading the base and the task vectors")
    context = _context(recipe, device)
    yield Event(JOB, LOG, f"loading the VLM and {len(pairs)} dev images")
    fitness = ReportFitness(
        context,
        recipe.vlm.path,  # type: ignore[union-attr]
        pairs,
        device=device,
        model_dtype=settings.model_dtype,
        batch_size=settings.batch_size,
        max_new_tokens=settings.max_new_tokens,
        image_size=settings.image_size,
        decoder=settings.decoder,
    )
    yield Event(JOB, LOG, f"decoding with {fitness.decoder_note}")
    encoded = fitness.images_encoded
    message = (
        f"image rows of the {fitness.family} VLM: {encoded} dev image(s) through the vision "
        "tower and projector so far; every trial reuses them (the merge never changes them)"
    )
    yield ImageRows(fitness.family, encoded).event(JOB, LOG, message)
    return fitness


def _wait_for_others(study: Any, storage: StudyStorage, n: int) -> Iterator[Event]:
    """PostgreSQL: wait while other workers' running trials would finish the study."""
    interval = storage.heartbeat_interval or 10
    last = None
    while True:
        complete, running = counts(study)
        if complete >= n or complete + running < n:
            return
        if (complete, running) != last:
            message = f"waiting for {running} trial(s) of other workers"
            yield WaitingForWorkers().event(JOB, LOG, message, complete, n)
            last = (complete, running)
        time.sleep(min(1.0, interval))
        fail_stale_trials(study)  # a dead worker's trial is failed and queued again


@dataclass
class _Run:
    """One call of ``iter_evolve``: the recipe with its overrides applied, the dev set, the
    search space and its sampler."""

    recipe: EvolveRecipe
    ws: Path
    n: int
    name: str
    do_export: bool
    device: str
    dev: ReportSet
    space: SearchSpace
    start: dict[str, float] | None
    sampler: Any


def _setup(
    recipe: EvolveRecipe | str | Path,
    workspace: str | Path,
    n_trials: int | None,
    study_name: str | None,
    export: bool | None,
) -> Generator[Event, None, _Run]:
    """Check the recipe and its folders, read the dev set, write ``recipe.yaml``."""
    if not isinstance(recipe, EvolveRecipe):
        recipe = load_evolve_recipe(recipe)
    settings = recipe.evolve
    n = n_trials or settings.n_trials
    ws = Path(workspace).expanduser().resolve()
    ws.mkdir(parents=True, exist_ok=True)
    removed = remove_stale_exports(ws)  # a killed export's merged model is not kept forever
    if removed:
        yield leftovers_event(removed)
    check_folders(recipe)
    vlm_family(recipe.vlm.path)  # type: ignore[union-attr]  (a VLM the evolution runs)
    device = resolve_device(recipe.device)
    from engine.data import load_report_pairs

    data = settings.data
    dev = load_report_pairs(
        data.path,
        image_col=data.image_col,
        report_col=data.report_col,
        findings_col=data.findings_col,
    )
    message = f"{len(dev)} dev pairs from {data.path} ({dev.skipped} skipped: empty findings)"
    yield DevSetRead(len(dev), dev.skipped).event(JOB, LOG, message, 0, n)
    replace_atomically(ws / RECIPE_FILE, recipe.to_yaml(), private=False)
    space = SearchSpace(settings, len(recipe.models))
    start = space.clip(recipe.jradievo_params()) if recipe.parameters else None
    sampler = make_sampler(settings.sampler, settings.seed, start)  # fails early if missing
    do_export = settings.export.enabled if export is None else export
    name = study_name or settings.study_name
    return _Run(recipe, ws, n, name, do_export, device, dev, space, start, sampler)


def _open_study(run: _Run, st: StudyStorage) -> Generator[Event, None, tuple[Any, list[int]]]:
    """Create or resume the study; returns it and the dead workers' trials marked FAIL."""
    import optuna

    stale = [] if st.shared else fail_orphaned_trials(st, run.name)
    study = optuna.create_study(
        storage=st.storage,
        study_name=run.name,
        sampler=run.sampler,
        pruner=make_pruner(run.recipe.evolve.pruning),
        direction="maximize",
        load_if_exists=True,
    )
    _check_space(study, run.space, run.recipe)
    if st.shared:
        stale = fail_stale_trials(study)
    if run.start is not None and not study.trials:
        study.enqueue_trial(run.start, skip_if_exists=True)
    complete, running = counts(study)
    message = f"study {run.name!r} in {safe_url(st.url)}: {complete} of {run.n} trials complete" + (
        f"; trial(s) {stale} of a dead worker marked FAIL" if stale else ""
    )
    yield StudyOpened(complete, running, stale).event(JOB, LOG, message, complete, run.n)
    return study, stale


def _run_trials(
    run: _Run, study: Any, st: StudyStorage
) -> Generator[Event, None, TrialRunner | None]:
    """Run trials until the study holds ``n`` COMPLETE; returns the runner (None: none ran)."""
    runner = None
    complete, _ = counts(study)
    while complete < run.n:
        if runner is None:
            fitness = yield from _load(run.recipe, run.dev.pairs, run.device)
            settings = run.recipe.evolve
            runner = TrialRunner(study, run.space, fitness, settings, run.n, run.ws, st.shared)
        yield from runner.iter_optimize()
        if st.shared:
            yield from _wait_for_others(study, st, run.n)
        complete, _ = counts(study)
    return runner


def _export_best(
    run: _Run, study: Any, runner: TrialRunner | None, complete: int, running: int
) -> Generator[Event, None, BestFiles | None]:
    """Export the best trial (unless other workers still run trials); returns its files."""
    files = None
    if not run.do_export:
        return files
    if running:
        message = f"not exporting: {running} trial(s) of other workers still running"
        yield Event(JOB, LOG, message, complete, run.n)
        return files
    best = study.best_trial
    context = runner.fitness.context if runner else _context(run.recipe, run.device)
    settings = run.recipe.evolve.export
    exporting = iter_export_best(
        context, run.recipe, run.space.params(best.params), best.number, float(best.value),
        run.ws, settings,
    )  # fmt: skip
    for event in exporting:
        files = BestFiles.from_event(event) or files
        yield event
    return files


def iter_evolve(
    recipe: EvolveRecipe | str | Path,
    workspace: str | Path,
    *,
    n_trials: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    export: bool | None = None,
) -> Iterator[Event]:
    """Run (or resume) the JRadiEvo search of ``recipe`` in ``workspace``, yielding events.

    ``n_trials``, ``study_name`` and ``export`` override the recipe's ``evolve:`` values;
    ``storage`` is an Optuna storage URL (default: SQLite in the workspace). The last event is
    a ``result`` whose data name the best trial, its parameters and the files written.
    """
    import optuna

    run = yield from _setup(recipe, workspace, n_trials, study_name, export)
    settings = run.recipe.evolve
    optuna.logging.set_verbosity(logging.ERROR)  # the engine reports through events
    with open_storage(storage, run.ws, settings.heartbeat_interval, settings.grace_period) as st:
        study, stale = yield from _open_study(run, st)
        runner = yield from _run_trials(run, study, st)
        complete, running = counts(study)
        files = yield from _export_best(run, study, runner, complete, running)
        best = study.best_trial
        # images through the vision path in this run: a Bunny's dev images once, any trials
        encoded = runner.fitness.images_encoded if runner else 0
        url = safe_url(st.url)
        exported = files.to_data() if files else {}
        extra = {"n_trials": run.n, "storage": url, "images_encoded": encoded, **exported}
        summary = write_summary(study, run.space.names, run.ws / SUMMARY_DIR, extra)
    result = EvolveResult(
        workspace=str(run.ws),
        study=run.name,
        storage=url,
        complete=complete,
        best_trial=best.number,
        best_score=best.value,
        best_params={k: best.params[k] for k in run.space.names},
        ran=runner.ran if runner else [],
        failed_stale=stale,
        images_encoded=encoded,
        summary=summary,
        **exported,
    )
    message = f"best: trial {best.number}, ROUGE-L {best.value:.4f} ({complete} trials)"
    yield result.event(JOB, RESULT, message, complete, run.n)


def evolve(
    recipe: EvolveRecipe | str | Path, workspace: str | Path, **options: Any
) -> EvolveResult | None:
    """Run ``iter_evolve`` to its end; return its result."""
    result = None
    for event in iter_evolve(recipe, workspace, **options):
        result = EvolveResult.from_event(event, RESULT) or result
    return result
