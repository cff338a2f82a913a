"""A study's trials, read without joining it: for ``jradi-engine history`` and the wizard.

Reading takes no lock, so it works while a worker runs the study (SQLite allows readers beside
the writer). A workspace without a study file gives no trials rather than a new, empty file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from engine.evolve._errors import EvolveError
from engine.evolve._storage import safe_url, sqlalchemy_url
from jradi_desktop.contract import RESULT, STUDY_DB, STUDY_NAME, Event, History, TrialRow

JOB = "history"


def _rows(url: str, study_name: str) -> list[TrialRow]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        study = optuna.load_study(study_name=study_name, storage=sqlalchemy_url(url))
    except KeyError:  # no such study (yet)
        return []
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise EvolveError(
            f"storage {safe_url(url)}: cannot read the study ({type(exc).__name__}: {first})."
        ) from exc
    return [
        TrialRow(t.number, t.state.name, t.value, t.user_attrs.get("seconds"), t.params)
        for t in study.get_trials(deepcopy=False)
    ]


def iter_history(
    workspace: str | Path, storage: str | None = None, study_name: str = STUDY_NAME
) -> Iterator[Event]:
    """One result event whose data hold ``trials``: number, state, score, seconds, params."""
    database = Path(workspace).expanduser().resolve() / STUDY_DB
    if storage is None and not database.is_file():
        rows: list[TrialRow] = []
    else:
        rows = _rows(storage or f"sqlite:///{database}", study_name)
    done = [r for r in rows if r.state == "COMPLETE" and r.score is not None]
    message = f"{len(rows)} trials, {len(done)} complete"
    if done:
        best = max(done, key=lambda r: r.score or 0.0)
        message += f"; best: trial {best.trial}, ROUGE-L {best.score:.4f}"
    yield History(rows).event(JOB, RESULT, message, len(rows), len(rows))
