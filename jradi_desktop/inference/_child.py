"""The worker's child process: load the model once, then serve requests from the pipe.

Messages to the parent: ``("ready", info)`` or ``("load_error", error)`` once; per request
``("accepted",)``, ``("progress", phase, done, total)`` for each step before the first token,
then ``("piece", text)`` zero or more times, then
``("done", finish_reason, n_tokens, last_text)`` or ``("error", error)``. A ``read_ahead``
request (``Backend.read_ahead``) answers the same way, with no pieces. Errors are
:class:`InferenceError` instances (they pickle).
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from jradi_desktop.errors import JRadiError
from jradi_desktop.inference._backend import Cancelled, GenerationParams, create_backend
from jradi_desktop.inference._errors import GenerationError, InferenceError, ModelLoadError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.synchronize import Event

    from jradi_desktop.inference._backend import Backend
    from jradi_desktop.models import ModelSpec

# Pieces produced faster than this are sent together: a tiny model makes a token in well under
# a millisecond, and a message per token would then cost more than the token. An 8B model's
# tokens take longer than this, so each is sent as soon as it is made. The first piece of a
# reply always goes at once.
FLUSH_INTERVAL = 0.004


def child_main(spec: ModelSpec, conn: Connection, cancel: Event, log_path: str) -> None:
    """Load the model, then serve requests until told to close or the parent goes away."""
    with open(log_path, "ab", buffering=0) as log:  # stdout/stderr, native ones included
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    faulthandler.enable(sys.stderr)  # a native crash leaves a Python stack in the log
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the GUI's to handle
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    started = time.perf_counter()
    try:
        backend = create_backend(spec)
    except JRadiError as exc:
        conn.send(("load_error", exc))
        return
    except Exception as exc:
        conn.send(("load_error", _wrap(exc, ModelLoadError, spec)))
        return
    info = {
        "backend": backend.name,
        "has_vision": backend.has_vision,
        "device": backend.device,
        "runtime": backend.runtime,
        "pid": os.getpid(),
        "load_seconds": time.perf_counter() - started,
    }
    try:
        conn.send(("ready", info))
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                break  # the parent has gone
            if request[0] not in ("generate", "read_ahead"):
                break
            _serve(backend, conn, cancel, *request)
    except ConnectionError:
        pass  # the parent has gone (killed) while we answered: nobody to tell
    finally:
        backend.close()
        _remove_if_empty(log_path)


def _remove_if_empty(log_path: str) -> None:
    """A clean exit with nothing logged leaves no file (the parent may be gone and unable to
    remove it)."""
    with contextlib.suppress(OSError):
        if os.path.getsize(log_path) == 0:
            os.unlink(log_path)


def _progress(conn: Connection, cancel: Event) -> Callable[[str, int, int], None]:
    def progress(phase: str, done: int, total: int) -> None:
        if cancel.is_set():
            raise Cancelled  # Stop during the image encoding or the prefill
        conn.send(("progress", phase, done, total))

    return progress


def _serve(
    backend: Backend,
    conn: Connection,
    cancel: Event,
    kind: str,
    messages: list[dict[str, Any]],
    images: list[bytes],
    params: dict[str, Any],
) -> None:
    """Answer one ``generate`` or ``read_ahead`` request (see the module docstring)."""
    conn.send(("accepted",))  # from here a death is this request's crash (see _worker)
    progress = _progress(conn, cancel)
    try:
        if kind == "read_ahead":
            backend.read_ahead(messages, images, progress)
            done = (backend.finish_reason or "stop", 0, "")
        else:
            stream = backend.generate(messages, images, GenerationParams(**params), progress)
            done = _stream(backend, conn, cancel, stream)
    except JRadiError as exc:
        conn.send(("error", exc))
        return
    except Exception as exc:
        conn.send(("error", _wrap(exc, GenerationError, backend.spec)))
        return
    conn.send(("done", *done))


def _stream(
    backend: Backend, conn: Connection, cancel: Event, stream: Iterator[str]
) -> tuple[str, int, str]:
    """Send the reply's pieces as they come; (finish reason, tokens, the last text unsent)."""
    finish = None
    buffer: list[str] = []
    last_send = 0.0
    try:
        while not cancel.is_set():  # checked before every token
            piece = next(stream, None)
            if piece is None:
                finish = backend.finish_reason
                break
            buffer.append(piece)
            now = time.perf_counter()
            if now - last_send >= FLUSH_INTERVAL:
                conn.send(("piece", "".join(buffer)))
                buffer.clear()
                last_send = now
        else:
            finish, buffer = "cancelled", []
    finally:
        stream.close()
    return finish or "stop", backend.generated_tokens, "".join(buffer)


def _wrap(exc: Exception, cls: type[InferenceError], spec: ModelSpec) -> InferenceError:
    return cls(
        f"モデル「{spec.name}」（{spec.path}）でエラーが起きました：{type(exc).__name__}: {exc}",
        f'Model "{spec.name}" ({spec.path}) failed: {type(exc).__name__}: {exc}',
    )
