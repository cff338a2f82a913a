"""``InferenceWorker``: the backend in a child process, so a native crash or an out-of-memory
kill costs a restart of the model, never the window or the clinician's text.

The child (``spawn`` context; ``_child.py``) loads the model once and serves requests one at
a time over a pipe: the request (messages, images as PNG bytes, parameters) goes down; text
pieces, then ``done`` (or ``error``), come back. Cancelling sets a shared ``Event`` that the
child checks before every token; the caller's iterator stops at once, and the rest of the
cancelled reply is drained before the next request. A child that dies surfaces as
:class:`WorkerCrashedError`; the next :meth:`InferenceWorker.generate` starts a fresh one.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jradi_desktop.data_folder import logs_folder
from jradi_desktop.inference._backend import (
    GenerationParams,
    Images,
    Messages,
    Progress,
    check_images,
)
from jradi_desktop.inference._child import child_main
from jradi_desktop.inference._errors import InvalidRequestError, WorkerCrashedError
from jradi_desktop.inference._images import encode_all

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.synchronize import Event

    from jradi_desktop.models import ModelSpec

logger = logging.getLogger(__name__)
_CTX = multiprocessing.get_context("spawn")
LOG_PREFIX = "jradi-inference-"


class InferenceWorker:
    """A model served by a child process; the same streaming API as a backend.

    Thread contract: :meth:`generate` runs in one thread at a time (the GUI's QThread) and
    waits there on a pipe poll of at most ``poll_interval`` seconds between checks of
    cancellation and of the child's life; :meth:`cancel` may be called from any thread and
    never blocks; :meth:`close` (any thread) waits at most ``timeout`` + 2 s for the child to
    exit. Creating the worker starts nothing: :meth:`start` begins loading the model in the
    background (to have it ready before the first request), :meth:`generate` starts it if
    needed.
    """

    def __init__(self, spec: ModelSpec, *, poll_interval: float = 0.02) -> None:
        self.spec = spec
        self.poll_interval = poll_interval
        self.finish_reason: str | None = None
        self.generated_tokens = 0  # tokens of the last finished reply, as the child counted
        self.info: dict[str, Any] = {}  # from the child once loaded: backend, has_vision, ...
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._cancel_event: Event | None = None
        self._log_path = ""
        self._ready = False
        self._pending = False  # a request whose "done" has not been read yet
        self._cancel_requested = threading.Event()
        self._busy = threading.Lock()  # held by the request using the pipe
        self._holding = threading.Lock()  # taking or giving up _busy, with _holder
        self._holder: str | None = None  # what holds _busy: "generate", "read_ahead"
        self._listener: Progress | None = None  # a request waiting on a read-ahead
        # Read-aheads are numbered as asked; cancel_read_ahead stops those up to a number
        # (a flag would be cleared by the next request before the running one saw it).
        self._ahead_asked = 0
        self._ahead_stopped = 0
        self._serial: int | None = None  # the read-ahead holding _busy, if one does
        self._state = threading.RLock()  # guards start / reset / close
        self._epoch = 0  # bumped by close(): a generation from before then ends quietly
        self._finalizer: weakref.finalize | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    @property
    def log_path(self) -> str:
        """Where the child writes its stdout, stderr and llama.cpp's warnings."""
        return self._log_path

    def start(self) -> None:
        """Start the child and begin loading the model, without waiting (idempotent)."""
        with self._state:
            if self._process is not None and self._process.is_alive():
                return
            self._reset()
            remove_stale_logs()
            prefix = f"{LOG_PREFIX}{os.getpid()}-"  # the app's pid: see remove_stale_logs
            fd, self._log_path = tempfile.mkstemp(prefix=prefix, suffix=".log", dir=logs_folder())
            os.close(fd)
            parent_conn, child_conn = _CTX.Pipe(duplex=True)
            self._cancel_event = _CTX.Event()
            self._process = _CTX.Process(
                target=child_main,
                args=(self.spec, child_conn, self._cancel_event, self._log_path),
                name=f"jradi-inference-{self.spec.name}",
                daemon=True,
            )
            self._process.start()
            child_conn.close()  # so that the child's death reads as EOF here
            self._conn = parent_conn
            # At interpreter exit or garbage collection without close(): stop the child and
            # remove an empty log (multiprocessing would only terminate the child).
            self._finalizer = weakref.finalize(self, _stop, self._process, self._log_path)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Start if needed and wait until the model is loaded; False on timeout. Raises the
        load error (an :class:`InferenceError`) or :class:`WorkerCrashedError`. A generation
        running in another thread is waited for first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._busy.acquire(timeout=-1 if timeout is None else timeout):
            return self._ready  # a generation holds the pipe
        try:
            self.start()
            while not self._ready:
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                self._handle(self._recv(loading=True))
            return True
        finally:
            self._busy.release()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the child (asks, then terminates, then kills). Idempotent; a later
        :meth:`generate` starts a new one."""
        with self._state:
            self._epoch += 1
            self.cancel()
            process, conn = self._process, self._conn
            if process is None:
                return
            with contextlib.suppress(OSError, ValueError):
                conn.send(("close",))
            process.join(timeout)
            if self._finalizer is not None:
                self._finalizer.detach()
            _stop(process, self._log_path)
            self._reset()

    def __enter__(self) -> InferenceWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reset(self) -> None:
        with self._state:
            if self._conn is not None:
                self._conn.close()
            process = self._process
            if process is not None and not process.is_alive():  # died: its log, if empty, goes
                if self._finalizer is not None:
                    self._finalizer.detach()
                _stop(process, self._log_path)
            self._process = self._conn = None
            self._ready = self._pending = False

    # -- requests ---------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop the running generation: the iterator ends before its next piece, the child
        within one token. Thread-safe and non-blocking."""
        self._cancel_requested.set()
        event = self._cancel_event
        if event is not None:
            event.set()

    def generate(
        self,
        messages: Messages,
        images: Images = (),
        params: GenerationParams | None = None,
        on_progress: Progress | None = None,
    ) -> Iterator[str]:
        """Stream the reply as text pieces (see :class:`Backend`); starts the worker if needed.
        :attr:`finish_reason` is ``"stop"``, ``"length"`` or ``"cancelled"`` afterwards.
        ``on_progress(phase, done, total)`` hears the child's steps before the first token
        (in this thread). Asked while a :meth:`read_ahead` runs, it waits for it (hearing its
        steps) and then takes what it kept; :meth:`cancel` stops both."""
        return self._run("generate", messages, images, params or GenerationParams(), on_progress)

    def cancel_read_ahead(self) -> None:
        """Stop every read-ahead asked so far, running or waiting; a generation goes on.
        Thread-safe and non-blocking."""
        with self._holding:
            self._ahead_stopped = self._ahead_asked
            if self._holder == "read_ahead" and self._cancel_event is not None:
                self._cancel_event.set()

    def read_ahead(
        self, messages: Messages, images: Images = (), on_progress: Progress | None = None
    ) -> None:
        """Have the child do now what a later :meth:`generate` of a prompt that starts as
        ``messages`` keeps (``Backend.read_ahead``: a report's image encoded and evaluated
        while the clinician still looks at it). Blocks until done or :meth:`cancel`; raises
        as :meth:`generate` does."""
        for _ in self._run("read_ahead", messages, images, GenerationParams(), on_progress):
            pass

    def _run(
        self,
        kind: str,
        messages: Messages,
        images: Images,
        params: GenerationParams,
        on_progress: Progress | None,
    ) -> Iterator[str]:
        check_images(messages, images)
        request = (kind, [dict(m) for m in messages], encode_all(images), params.to_dict())
        serial = None
        if kind == "read_ahead":
            with self._holding:
                self._ahead_asked += 1
                serial = self._ahead_asked
        self._cancel_requested.clear()
        if not self._take(kind, on_progress, serial):
            self.finish_reason = "cancelled"  # stopped while a read-ahead was waited for
            return
        epoch = self._epoch
        try:
            self.finish_reason, self.generated_tokens = None, 0
            if not self._prepare(epoch):
                self.finish_reason = "cancelled"
                return
            for message in self._replies(request, epoch):
                if message[0] == "piece":
                    if not self._cancel_requested.is_set():
                        yield message[1]
                    continue
                if message[0] == "progress":
                    for listener in (on_progress, self._listener):
                        if listener is not None and not self._cancel_requested.is_set():
                            listener(*message[1:])
                    continue
                self._handle(message)  # "done" (with the last text) or "error" (raised)
                if message[0] == "done" and message[3] and not self._cancel_requested.is_set():
                    yield message[3]
                if not self._pending:
                    return
            self.finish_reason = "cancelled"
        except WorkerCrashedError:
            if epoch != self._epoch:  # closed under us: not a crash
                self.finish_reason = "cancelled"
                return
            raise
        finally:
            if self._pending and self._cancel_event is not None:
                self._cancel_event.set()  # cancelled or abandoned: stop the child's generation
            with self._holding:
                self._holder = self._serial = None
                self._busy.release()

    def _take(self, kind: str, on_progress: Progress | None, serial: int | None) -> bool:
        """Take the pipe for a ``kind`` request: at once, or after the read-ahead that holds
        it (its progress is ``on_progress``'s meanwhile); False when cancelled while waiting.
        Another request holding it is the caller's mistake."""
        with self._holding:
            if self._busy.acquire(blocking=False):
                self._holder, self._serial = kind, serial
                return True
            if self._holder != "read_ahead":
                raise InvalidRequestError(
                    "推論プロセスは別の生成を実行中です。終わるか中止してから実行してください。",
                    "The inference worker is already generating; wait for it or cancel it.",
                )
            self._listener = on_progress
        try:
            while not self._cancel_requested.wait(self.poll_interval):
                with self._holding:
                    if serial is not None and serial <= self._ahead_stopped:
                        return False
                    if self._busy.acquire(blocking=False):
                        self._holder, self._serial = kind, serial
                        return True
            return False
        finally:
            self._listener = None

    def _replies(self, request: tuple[Any, ...], epoch: int) -> Iterator[tuple[Any, ...]]:
        """Send ``request`` and yield the child's messages until cancelled or closed.

        The child answers ``accepted`` before it starts on a request. One that dies before
        that was idle when asked (killed, or out of memory, between requests, which its pipe
        may not show yet): the request goes once to a fresh child instead of failing. One that
        dies after it crashed on this request, and the same request would crash the next child
        too (a native fault in the model or its library): it is reported, not sent again.
        """
        for attempt in (1, 2):
            self._cancel_event.clear()
            try:
                self._conn.send(request)
                self._pending = True
                accepted = None
                while accepted is None and not self._cancelled(epoch):
                    accepted = self._recv(loading=False)
            except (OSError, ValueError, WorkerCrashedError) as exc:
                if attempt == 2 or epoch != self._epoch:
                    if isinstance(exc, WorkerCrashedError):
                        raise
                    raise self._crashed(self._process, loading=False) from None
                logger.warning("the inference worker died before answering; restarting it")
                self._reset()
                if not self._prepare(epoch):
                    return
                continue
            if accepted is not None and accepted[0] != "accepted":
                yield accepted  # not expected: the child always accepts first
            while not self._cancelled(epoch):
                message = self._recv(loading=False)
                if message is not None:
                    yield message
            return

    def _cancelled(self, epoch: int) -> bool:
        serial = self._serial
        stopped = serial is not None and serial <= self._ahead_stopped
        return stopped or self._cancel_requested.is_set() or epoch != self._epoch

    def _prepare(self, epoch: int) -> bool:
        """Start the child if needed, wait for the model, finish draining a cancelled reply.
        False when cancelled or closed meanwhile."""
        while not (self._cancel_requested.is_set() or epoch != self._epoch):
            if self._idle_child_died():
                logger.warning("the idle inference worker died (exit code %s)",
                               self._process.exitcode)  # fmt: skip
                self._reset()  # died between requests: this request gets a fresh one
            if self._process is None:
                self.start()
            if self._ready and not self._pending:
                return True
            draining = self._ready
            try:
                self._handle(self._recv(loading=not self._ready), draining=draining)
            except WorkerCrashedError:
                if not draining:
                    raise
                logger.warning("the worker died finishing a cancelled reply; restarting it")
        return False

    def _idle_child_died(self) -> bool:
        """The loaded child is gone while nothing was asked of it. Its closed pipe tells at
        once; ``is_alive`` may lag when a fork server, not this process, is its parent."""
        process, conn = self._process, self._conn
        if process is None or conn is None or not self._ready or self._pending:
            return False
        if not process.is_alive():
            return True
        try:
            while conn.poll(0):
                conn.recv()  # nothing is due between requests: only EOF matters here
        except (EOFError, OSError):
            return True
        return False

    def _recv(self, *, loading: bool) -> tuple[Any, ...] | None:
        """The next message from the child, None after ``poll_interval`` without one."""
        conn, process = self._conn, self._process
        if conn is None or process is None:
            raise self._crashed(None, loading)
        try:
            if conn.poll(self.poll_interval):
                return conn.recv()
        except (EOFError, OSError):
            pass
        else:
            if process.is_alive():
                return None
        raise self._crashed(process, loading)

    def _handle(self, message: tuple[Any, ...] | None, *, draining: bool = False) -> None:
        if message is None:
            return
        kind = message[0]
        if kind == "ready":
            self._ready, self.info = True, message[1]
        elif kind == "done":
            self._pending = False
            if not draining:
                self.finish_reason, self.generated_tokens = message[1], message[2]
        elif kind == "error":
            self._pending = False
            if not draining:
                raise message[1]
        elif kind == "load_error":
            self.close()
            raise message[1]
        # "accepted", "progress" or "piece" of a cancelled reply being drained: dropped

    def _crashed(
        self, process: multiprocessing.process.BaseProcess | None, loading: bool
    ) -> WorkerCrashedError:
        exitcode = None
        if process is not None:
            process.join(1.0)
            exitcode = process.exitcode
        tail = _tail(self._log_path)
        if process is not None and process is self._process:  # not a close() under us
            logger.warning("inference worker died (exit code %s); log tail:\n%s", exitcode, tail)
        self._reset()
        log_path = self._log_path if os.path.exists(self._log_path) else ""  # kept if not empty
        return WorkerCrashedError.from_exit(
            exitcode, loading=loading, log_path=log_path, log_tail=tail
        )


def _stop(process: multiprocessing.process.BaseProcess, log_path: str) -> None:
    """Terminate, then kill, the child if it still runs; delete its log unless it holds a
    crash's traces (a clean exit, or nothing written)."""
    for stop in (process.terminate, process.kill):
        if process.is_alive():
            stop()
            process.join(1.0)
    with contextlib.suppress(OSError):
        if process.exitcode == 0 or os.path.getsize(log_path) == 0:
            os.unlink(log_path)


def remove_stale_logs(folder: str | Path | None = None) -> list[str]:
    """Remove the empty logs of workers whose app is gone (killed before it could clean up)
    from ``folder`` (default: the logs in the data folder).

    A log is named ``jradi-inference-<app pid>-….log``; an empty one whose app process no
    longer runs holds nothing and is never read. Logs with content are crash traces, kept for
    the user; a running app's logs are its own. (An empty log named without a pid is an older
    version's, removed after a day.) Returns the paths removed."""
    import psutil

    removed = []
    folder = folder or logs_folder()
    for path in Path(folder).glob(f"{LOG_PREFIX}*.log"):
        owner, named, _ = path.name.removeprefix(LOG_PREFIX).partition("-")
        try:
            stat = path.stat()
            if stat.st_size:
                continue  # a crash's traces
            if named and owner.isdigit():
                if psutil.pid_exists(int(owner)):
                    continue
            elif time.time() - stat.st_mtime < 24 * 3600:
                continue
            path.unlink()
        except OSError:
            continue  # gone meanwhile, or not ours to remove
        removed.append(str(path))
    return removed


def _tail(path: str, lines: int = 20) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
