"""The bridge between the Qt event loop and the inference worker process.

A job runs on a Python thread (the worker's ``generate`` blocks on a pipe poll); its text
pieces reach the UI through a queued Qt signal, so the UI thread never waits on the model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from jradi_desktop.errors import JRadiError
from jradi_desktop.inference import InferenceWorker
from jradi_desktop.models import ModelSpec

# A job gets the worker and a callback for each text piece, and returns its result.
Job = Callable[[InferenceWorker, Callable[[str], None]], Any]


class GenerationController(QObject):
    """Owns the worker of the current model; runs one job at a time.

    Signals carry the ``tag`` given to :meth:`run` so that several panels (report, chat) can
    share one model and tell their jobs apart.
    """

    piece = Signal(str, str)  # tag, text
    finished = Signal(str, object)  # tag, result
    failed = Signal(str, object)  # tag, JRadiError or Exception
    busyChanged = Signal(bool)
    modelChanged = Signal(object)  # ModelSpec | None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker: InferenceWorker | None = None
        self._spec: ModelSpec | None = None
        self._thread: threading.Thread | None = None
        self._busy = False
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

    def run(self, tag: str, job: Job) -> bool:
        """Start ``job`` unless one is running or there is no model; returns whether it did."""
        if self._busy or self._worker is None:
            return False
        worker = self._worker
        self._set_busy(True)

        def target() -> None:
            start = time.perf_counter()
            try:
                result = job(worker, lambda text: self.piece.emit(tag, text))
            except Exception as exc:
                self._set_busy(False)
                self.failed.emit(tag, exc)
                return
            self._set_busy(False)
            self.finished.emit(tag, {"result": result, "seconds": time.perf_counter() - start,
                                     "finish_reason": worker.finish_reason})  # fmt: skip

        self._thread = threading.Thread(target=target, name=f"jradi-{tag}", daemon=True)
        self._thread.start()
        return True

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
