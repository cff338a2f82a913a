"""One worker's trials: the Optuna objective, the per-trial callback and its events.

``study.optimize`` runs in a worker thread (so Optuna's heartbeats and callbacks work as
designed) and hands events to the job's generator through a queue. Cancelling (Ctrl-C in the
main thread, or closing the generator) sets an event that the generation checks at every
token; the trial then raises ``Cancelled``, Optuna marks it FAIL, and the thread ends.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.evolve._fitness import Cancelled, ReportFitness
from engine.evolve._settings import EvolveSettings
from engine.evolve._space import SearchSpace
from jradi_desktop.atomic_file import replace_atomically
from jradi_desktop.contract import (
    LOG,
    PROGRESS,
    BatchDone,
    Event,
    TrialFinished,
    TrialStarted,
    TrialText,
    trial_texts,
)

if TYPE_CHECKING:
    import optuna

JOB = "evolve"


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def counts(study: optuna.Study) -> tuple[int, int]:
    """(COMPLETE trials, RUNNING trials) of the study."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
    complete = sum(t.state == TrialState.COMPLETE for t in trials)
    return complete, len(trials) - complete


@dataclass
class _Done:
    error: BaseException | None


class TrialRunner:
    """The objective and the after-trial callback of one worker, for ``n_trials`` COMPLETE."""

    def __init__(
        self,
        study: optuna.Study,
        space: SearchSpace,
        fitness: ReportFitness,
        settings: EvolveSettings,
        n_trials: int,
        workspace: Path,
        shared: bool,
    ) -> None:
        self.study, self.space, self.fitness = study, space, fitness
        self.settings, self.n_trials, self.workspace = settings, n_trials, workspace
        self.shared = shared
        self.worker = worker_id()
        self.cancel = threading.Event()
        self.ran: list[int] = []
        self.seconds: list[float] = []
        self.started = time.monotonic()
        self._emit: Callable[[Event], None] = lambda event: None

    def _alive_before(self, number: int) -> int:
        from optuna.trial import TrialState

        alive = (TrialState.COMPLETE, TrialState.RUNNING)
        return sum(t.number < number for t in self.study.get_trials(deepcopy=False, states=alive))

    def objective(self, trial: optuna.Trial) -> float:
        import optuna

        if self.cancel.is_set():
            raise Cancelled("cancelled before the trial started")
        if self.shared and self._alive_before(trial.number) >= self.n_trials:
            # Another worker asked for the last trial first: this one is not needed.
            trial.set_user_attr("surplus", True)
            self.study.stop()
            raise optuna.TrialPruned("surplus: the requested trials are complete or running")
        params = self.space.suggest(trial)
        trial.set_user_attr("worker", self.worker)
        done = counts(self.study)[0]
        started = TrialStarted(trial.number, trial.params)
        self._emit(
            started.event(JOB, PROGRESS, f"trial {trial.number} started", done, self.n_trials)
        )

        def on_batch(batch: int, batches: int) -> None:
            message = f"trial {trial.number}: batch {batch}/{batches}"
            payload = BatchDone(trial.number, batch, batches)
            self._emit(payload.event(JOB, LOG, message, done, self.n_trials))

        pruning = self.settings.pruning

        def on_partial(value: float) -> None:
            trial.report(value, step=0)
            if pruning is not None and trial.should_prune():
                raise optuna.TrialPruned(
                    f"partial ROUGE-L {value:.4f} is not in the top {pruning.keep_top:g}%"
                )

        began = time.perf_counter()
        try:
            result = self.fitness.evaluate(
                params,
                on_batch=on_batch,
                on_partial=on_partial if pruning else None,
                partial_fraction=pruning.fraction if pruning else None,
                cancel=self.cancel,
            )
        except Cancelled:
            trial.set_user_attr("failed_reason", "cancelled")
            raise
        seconds = time.perf_counter() - began
        path = trial_texts(self.workspace, trial.number)
        rows = zip(self.fitness.pairs, result.predictions, result.scores, strict=True)
        lines = [
            TrialText(trial.number, i, str(pair.image), pair.findings, text, score).to_data()
            for i, (pair, text, score) in enumerate(rows)
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)
        replace_atomically(path, text, private=False)
        trial.set_user_attr("seconds", seconds)
        trial.set_user_attr("merge_seconds", result.merge_seconds)
        trial.set_user_attr("generate_seconds", result.generate_seconds)
        trial.set_user_attr("texts", str(path))
        return result.score

    def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        from optuna.trial import TrialState

        if trial.user_attrs.get("surplus"):
            return
        complete, running = counts(study)
        if trial.state == TrialState.COMPLETE:
            self.ran.append(trial.number)
            self.seconds.append(float(trial.user_attrs.get("seconds", 0.0)))
        if complete + running >= self.n_trials:
            study.stop()  # the rest is done or running elsewhere
        best = study.best_trial if complete else None
        mean = sum(self.seconds) / len(self.seconds) if self.seconds else None
        left = max(0, self.n_trials - complete)
        finished = TrialFinished(
            trial=trial.number,
            state=trial.state.name,
            score=trial.value,
            best_score=best.value if best else None,
            best_trial=best.number if best else None,
            seconds=trial.user_attrs.get("seconds"),
            elapsed_s=time.monotonic() - self.started,
            remaining_s=None if mean is None else mean * left,
            images_encoded=self.fitness.images_encoded,
        )
        score = f"ROUGE-L {trial.value:.4f}" if trial.value is not None else trial.state.name
        best_text = f" (best {best.value:.4f}, trial {best.number})" if best else ""
        message = f"trial {trial.number}: {score}{best_text}"
        self._emit(finished.event(JOB, PROGRESS, message, complete, self.n_trials))

    def iter_optimize(self) -> Iterator[Event]:
        """Run trials until ``n_trials`` are COMPLETE (or running elsewhere), yielding events."""
        from optuna.study import MaxTrialsCallback
        from optuna.trial import TrialState

        events: queue.Queue[Event | _Done] = queue.Queue()
        self._emit = events.put
        enough = MaxTrialsCallback(self.n_trials, states=(TrialState.COMPLETE,))
        callbacks = [enough, self.after_trial]

        def target() -> None:
            try:
                self.study.optimize(self.objective, callbacks=callbacks, catch=())
            except BaseException as exc:  # handed to the generator, which re-raises it
                events.put(_Done(exc))
            else:
                events.put(_Done(None))

        thread = threading.Thread(target=target, name="jradi-evolve-trials", daemon=True)
        thread.start()
        try:
            while True:
                try:
                    item = events.get(timeout=0.5)
                except queue.Empty:
                    continue
                if isinstance(item, _Done):
                    if item.error is not None:
                        raise item.error
                    return
                yield item
        finally:
            if thread.is_alive():  # Ctrl-C or the consumer closed us: fail the trial, then go
                self.cancel.set()
                thread.join()
