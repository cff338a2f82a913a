"""A PACS request off the UI thread: one :class:`PacsJob` per request, with its own signals.

pynetdicom blocks (each step up to the entry's timeout), so every C-FIND, retrieve and
C-STORE runs on a Python thread; the job relays progress and its end to the UI thread through
queued connections, as :class:`~jradi_desktop.ui.generation.GenerationJob` does for the model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

# A request: (report progress (done, total), the Stop event) -> its result.
Request = Callable[[Callable[[int, int], None], threading.Event], Any]


class PacsJob(QObject):
    """One request. Exactly one of ``finished`` (the result) and ``failed`` (the exception)
    comes, on the UI thread; ``cancel`` sets the event the request watches."""

    progress = Signal(int, int)
    finished = Signal(object)
    failed = Signal(object)
    _progressed = Signal(int, int)
    _ended = Signal(object, bool)

    def __init__(self, name: str, request: Request, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.stop = threading.Event()
        self._request = request
        queued = Qt.ConnectionType.QueuedConnection
        self._progressed.connect(self.progress, queued)
        self._ended.connect(self._end, queued)

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"jradi-pacs-{self.name}", daemon=True).start()

    def cancel(self) -> None:
        self.stop.set()

    def _run(self) -> None:
        try:
            result = self._request(self._progressed.emit, self.stop)
        except Exception as exc:  # shown to the user by whoever started the job
            self._ended.emit(exc, False)
            return
        self._ended.emit(result, True)

    def _end(self, value: Any, ok: bool) -> None:
        (self.finished if ok else self.failed).emit(value)
