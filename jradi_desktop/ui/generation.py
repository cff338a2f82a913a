"""The bridge between the Qt event loop and the inference worker process.

A job runs on a Python thread (the worker's ``generate`` blocks on a pipe poll), so the UI
thread never waits on the model. Each run is its own :class:`GenerationJob` with its own
signals, as superqt's ``GeneratorWorker``: whoever started a job connects to it, and nobody
filters a shared broadcast.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from jradi_desktop.errors import JRadiError
from jradi_desktop.inference import InferenceWorker
from jradi_desktop.models import ModelSpec

logger = logging.getLogger(__name__)

# A job function gets the worker and a callback for each text piece, and returns its result.
# A job: (the worker, emit a text piece, report progress (phase, done, total)) -> its result
JobFunction = Callable[[InferenceWorker, Callable[[str], None], Callable[[str, int, int], None]],
                       Any]  # fmt: skip


@dataclass(frozen=True)
class JobOutcome:
    """What a finished job hands back: its result, how long it ran and why the model stopped
    (``"stop"``, ``"length"`` or ``"cancelled"``)."""

    result: Any
    seconds: float
    finish_reason: str | None


class GenerationJob(QObject):
    """One run on the worker. Its signals are emitted on the UI thread (relayed from the job's
    thread through queued connections), so a listener connected right after the job started
    misses nothing. Exactly one of ``finished`` and ``failed`` comes, after the controller is
    no longer busy."""

    piece = Signal(str)  # a streamed text piece
    progress = Signal(str, int, int)  # phase, done, total: the work before the first piece
    finished = Signal(object)  # JobOutcome
    failed = Signal(object)  # JRadiError or Exception
    _streamed = Signal(str)  # from the job's thread
    _progressed = Signal(str, int, int)  # from the job's thread
    _ended = Signal(object)  # JobOutcome | Exception, from the job's thread

    def __init__(
        self, name: str, function: JobFunction, worker: InferenceWorker, on_end: Callable[[], None]
    ) -> None:
        super().__init__()
        self.name = name
        self._function = function
        self._worker = worker
        self._on_end = on_end
        queued = Qt.ConnectionType.QueuedConnection
        self._streamed.connect(self.piece, queued)
        self._progressed.connect(self.progress, queued)
        self._ended.connect(self._end, queued)

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"jradi-{self.name}", daemon=True).start()

    def cancel(self) -> None:
        self._worker.cancel()

    def _run(self) -> None:
        start = time.perf_counter()
        try:
            result = self._function(self._worker, self._streamed.emit, self._progressed.emit)
        except Exception as exc:
            self._ended.emit(exc)
            return
        seconds = time.perf_counter() - start
        self._ended.emit(JobOutcome(result, seconds, self._worker.finish_reason))

    def _end(self, end: JobOutcome | Exception) -> None:
        self._on_end()
        if isinstance(end, JobOutcome):
            self.finished.emit(end)
        else:
            self.failed.emit(end)


class GenerationController(QObject):
    """Owns the worker of the current model; runs one job at a time, for every panel."""

    busyChanged = Signal(bool)
    modelChanged = Signal(object)  # ModelSpec | None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker: InferenceWorker | None = None
        self._spec: ModelSpec | None = None
        self._job: GenerationJob | None = None  # kept alive until the next one
        self._busy = False
        self._ahead: threading.Thread | None = None  # a read-ahead running on the worker
        self.read_ahead_enabled = True
        self.language = "ja"

    @property
    def spec(self) -> ModelSpec | None:
        return self._spec

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid if self._worker else None

    @property
    def worker_info(self) -> dict[str, Any]:
        """What the worker reported once its model loaded (backend, device, ...)."""
        return dict(self._worker.info) if self._worker else {}

    def set_model(self, spec: ModelSpec | None) -> None:
        """Switch models: the old worker is closed off the UI thread, the new one starts
        loading at once so the first report does not wait for it."""
        old = self._worker
        self._spec = spec
        self._worker = InferenceWorker(spec) if spec else None
        if old is not None:
            threading.Thread(target=old.close, daemon=True).start()
        if self._worker is not None:
            self._worker.start()
        self.modelChanged.emit(spec)

    def run(
        self,
        name: str,
        function: JobFunction,
        connect: Mapping[str, Callable[..., Any]],
        *,
        uses_read_ahead: bool = False,
    ) -> GenerationJob | None:
        """Start ``function`` as a job unless one is running or there is no model. ``connect``
        maps the job's signal names to slots (superqt's ``create_worker(_connect=...)``): they
        are connected before the job's thread starts, so no signal can be missed. A job that
        ``uses_read_ahead`` (the report) waits for one running, any other stops it."""
        if self._busy or self._worker is None:
            return None
        if not uses_read_ahead:
            self._worker.cancel_read_ahead()  # of no use to this job: stop it, not wait
        job = GenerationJob(name, function, self._worker, lambda: self._set_busy(False))
        for signal, slot in connect.items():
            getattr(job, signal).connect(slot)
        self._job = job
        self._set_busy(True)
        job.start()
        return job

    def read_ahead(self, function: Callable[[InferenceWorker], None]) -> None:
        """Run ``function(worker)`` (an ``InferenceWorker.read_ahead``) on a thread of its
        own, not busy: a report asked meanwhile waits for it in the worker, any other job
        stops it. Nothing while a job runs or when turned off; an earlier read-ahead still
        running is stopped first. Its errors are logged: the report, if asked, says why."""
        worker = self._worker
        if worker is None or self._busy or not self.read_ahead_enabled:
            return
        worker.cancel_read_ahead()  # one for an earlier image: this one replaces it

        def run() -> None:
            try:
                function(worker)
            except Exception:
                logger.info("read-ahead failed", exc_info=True)

        self._ahead = threading.Thread(target=run, name="jradi-read-ahead", daemon=True)
        self._ahead.start()

    @property
    def reading_ahead(self) -> bool:
        """Whether a read-ahead is still running (or waiting for the worker)."""
        return self._ahead is not None and self._ahead.is_alive()

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def shutdown(self) -> None:
        """Close the worker (on application exit)."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.busyChanged.emit(busy)


def error_text(exc: BaseException, language: str = "ja") -> str:
    """The message a clinician sees: the project's own bilingual text, or a plain summary."""
    if isinstance(exc, JRadiError):
        return exc.message(language)
    return f"{type(exc).__name__}: {exc}"
