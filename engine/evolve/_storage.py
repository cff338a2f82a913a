"""Where a study lives: SQLite in the workspace (one worker), or PostgreSQL (several).

SQLite (the default, ``WORKSPACE/study.sqlite3``) serves one worker. The worker holds an
exclusive lock on ``<database>.lock`` for its whole run (``flock``/``msvcrt``; the kernel drops
it when the process dies, even by SIGKILL), so a worker that gets the lock knows that every
trial still RUNNING was left by a dead process: it marks them FAIL before asking for new ones.
A second worker on the same SQLite study is refused with a message saying so.

PostgreSQL studies are shared by workers on any number of machines, so a RUNNING trial may be
alive elsewhere. Each worker records a heartbeat for its trial every ``heartbeat_interval``
seconds; a trial whose heartbeat is older than ``grace_period`` is failed by whichever worker
looks next, and ``RetryHeartbeatStaleTrialCallback`` queues its parameters again, so a trial
lost with its worker is rerun once, by someone.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from engine.evolve._errors import EvolveError
from jradi_desktop.contract import STUDY_DB
from jradi_desktop.file_lock import try_lock

if TYPE_CHECKING:
    import optuna

_POSTGRES = ("postgresql://", "postgres://", "postgresql+psycopg://")


class FileLock:
    """An exclusive, non-blocking lock on a file, released by close() or the process's end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115  (held until close)
        try:
            try_lock(file)
        except OSError:
            file.close()
            return False
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        self._file = file
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip() or "?"
        except OSError:
            return "?"

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def safe_url(url: str) -> str:
    """``url`` with any password hidden (for messages and events)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.rsplit("@", 1)[-1]  # unparseable: at least drop any credentials


@dataclass
class StudyStorage:
    """An open Optuna storage and how it is shared; ``close()`` releases the SQLite lock."""

    url: str
    storage: optuna.storages.BaseStorage
    shared: bool  # True for PostgreSQL: other workers may be running trials of the study
    heartbeat_interval: int | None
    _lock: FileLock | None = None

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        engine = getattr(self.storage, "engine", None)
        if engine is not None:
            engine.dispose()

    def __enter__(self) -> StudyStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sqlite(url: str) -> StudyStorage:
    import optuna

    path = Path(url.removeprefix("sqlite:///")).expanduser()
    if not path.parent.is_dir():
        raise EvolveError(f"storage {url}: the folder {path.parent} does not exist.")
    lock = FileLock(path.with_name(path.name + ".lock"))
    if not lock.acquire():
        raise EvolveError(
            f"storage {url}: another jradi-engine evolve (pid {lock.holder()}) is running on "
            "this SQLite study. SQLite serves one worker at a time; wait for it to finish, or "
            "share the study between workers with --storage postgresql://..."
        )
    try:
        storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
    except Exception as exc:
        lock.close()
        raise EvolveError(f"storage {url}: cannot open the SQLite study ({exc}).") from exc
    return StudyStorage(url, storage, shared=False, heartbeat_interval=None, _lock=lock)


def sqlalchemy_url(url: str) -> str:
    """A PostgreSQL URL with the psycopg 3 driver named (SQLAlchemy defaults to psycopg2)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _postgres(url: str, heartbeat_interval: int, grace_period: int) -> StudyStorage:
    import optuna
    from optuna.exceptions import ExperimentalWarning
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    url = sqlalchemy_url(url)
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    url,
                    engine_kwargs={"pool_pre_ping": True},
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=(
                        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)
                    ),
                )
            break
        except (IntegrityError, ProgrammingError):
            # Workers starting together on a new database race to create Optuna's tables;
            # the loser sees a duplicate type or table. The tables exist now: try again.
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise EvolveError(
                f"storage {safe_url(url)}: cannot connect to PostgreSQL ({type(exc).__name__}: "
                f"{first}). Check that the server runs, the database exists and the user may "
                "create tables in it."
            ) from exc
    return StudyStorage(url, storage, shared=True, heartbeat_interval=heartbeat_interval)


def open_storage(
    url: str | None, workspace: Path, heartbeat_interval: int = 10, grace_period: int = 60
) -> StudyStorage:
    """Open ``url`` (default: SQLite in ``workspace``); see the module docstring."""
    url = url or f"sqlite:///{workspace / STUDY_DB}"
    if url.startswith("sqlite:///"):
        return _sqlite(url)
    if url.startswith(_POSTGRES):
        return _postgres(url, heartbeat_interval, grace_period)
    raise EvolveError(
        f"storage {safe_url(url)!r} is not supported; use sqlite:///PATH (one worker) or "
        "postgresql://USER:PASSWORD@HOST:PORT/DATABASE (several workers)."
    )


def fail_orphaned_trials(storage: StudyStorage, study_name: str) -> list[int]:
    """SQLite, under the lock: mark FAIL every RUNNING trial (its worker is dead)."""
    from optuna.trial import TrialState

    backend: Any = storage.storage
    try:
        study_id = backend.get_study_id_from_name(study_name)
    except KeyError:
        return []  # a new study
    stale = backend.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
    for trial in stale:
        trial_id = backend.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        backend.set_trial_user_attr(trial_id, "failed_reason", "its worker died")
        backend.set_trial_state_values(trial_id, TrialState.FAIL)
    return [t.number for t in stale]


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """PostgreSQL: fail (and queue again) the RUNNING trials whose heartbeat is stale."""
    import optuna
    from optuna.trial import TrialState

    def running() -> set[int]:
        return {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}

    before = running()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    return sorted(before - running())
