"""llama.cpp's log into Python logging, never onto the terminal.

llama.cpp and mtmd report through log callbacks. llama-cpp-python's (whose level table
predates ggml's DEBUG level) prints llama.cpp's warnings even with ``verbose=False``, and
mtmd's default prints every image it encodes. Ours sends every line to the
``jradi_desktop.inference.llama_cpp`` logger and remembers the last warnings and errors, which
load failures quote.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import threading
from typing import Any

logger = logging.getLogger("jradi_desktop.inference.llama_cpp")

# ggml_log_level: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the last line).
_LEVELS = {1: logging.DEBUG, 2: logging.DEBUG, 3: logging.WARNING, 4: logging.ERROR}
_recent_errors: collections.deque[str] = collections.deque(maxlen=8)
_log_lock = threading.Lock()
_log_state: dict[str, Any] = {"callback": None, "level": logging.DEBUG}


def install_log_bridge() -> None:
    """Route llama.cpp's and mtmd's log to the ``jradi_desktop.inference.llama_cpp`` logger
    (its info at debug level) instead of stderr, and remember the last warnings and errors
    for load-failure messages. The package logger has a NullHandler: nothing reaches the
    terminal unless the application configures logging (the worker logs to its own file)."""
    with _log_lock:
        if _log_state["callback"] is not None:
            return
        import llama_cpp
        import llama_cpp.mtmd_cpp as mtmd

        @llama_cpp.llama_log_callback
        def callback(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
            py_level = _log_state["level"] if level == 5 else _LEVELS.get(level, logging.DEBUG)
            _log_state["level"] = py_level
            message = text.decode("utf-8", errors="replace").rstrip()
            if message:
                if py_level >= logging.WARNING:
                    _recent_errors.append(message)
                logger.log(py_level, "%s", message)

        _log_state["callback"] = callback  # referenced so that it is never collected
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
        mtmd.mtmd_log_set(callback, ctypes.c_void_p(0))
        mtmd.mtmd_helper_log_set(callback, ctypes.c_void_p(0))


def last_llama_errors(*, clear: bool = False) -> str:
    """The last warnings and errors llama.cpp logged, joined; ``clear`` forgets them."""
    text = " / ".join(_recent_errors)
    if clear:
        _recent_errors.clear()
    return text
