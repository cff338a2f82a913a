"""Engine jobs as child processes: ``python -m engine.cli … --events jsonl`` under ``QProcess``.

The GUI process never imports torch for tuning: it starts the engine's command line, reads
its stdout line by line (each line one ``jradi_desktop.contract.Event`` as JSON) and keeps
the tail of stderr for when the job fails. Nothing here blocks the UI thread; a child that
crashes ends in ``failed(log tail)`` and ``finished(code)``, never in an exception in the GUI.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from jradi_desktop.contract import RESULT, Event, parse_event
from jradi_desktop.ui.engine_command import engine_command

GRACE_MS = 8000  # after SIGINT (a clean stop: the engine fails the trial, keeps the study)
TAIL_LINES = 80
TAIL_CHARS = 6000
CRASHED = -1  # exit code reported for a child that died by a signal or never started


class EngineJob(QObject):
    """One child process and its JSON-lines events.

    ``event`` carries each parsed line (an ``Event``);
    ``failed`` carries the log tail when the job ended badly and was not cancelled; ``finished``
    (the exit code, ``CRASHED`` for a crash) always comes last. Lines of stdout that are not
    JSON (a library printing) go to the log tail with stderr.
    """

    event = Signal(object)  # Event
    finished = Signal(int)
    failed = Signal(str)

    def __init__(
        self,
        args: Sequence[str],
        parent: QObject | None = None,
        *,
        grace_ms: int = GRACE_MS,
    ) -> None:
        super().__init__(parent)
        self.program, self.arguments = engine_command(*args)
        self.grace_ms = grace_ms
        self.cancelled = False
        self.exit_code: int | None = None
        self.result: Event | None = None  # the last RESULT event
        self.error_message = ""  # the engine's own one-line error (its stderr's last line)
        self._process: QProcess | None = None
        self._stdout = b""
        self._stderr = b""
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._kill_timer = QTimer(self, singleShot=True)
        self._kill_timer.timeout.connect(self._kill)

    # -- state ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        process = self._process
        return process is not None and process.state() != QProcess.ProcessState.NotRunning

    @property
    def pid(self) -> int | None:
        if not self.running or self._process is None:
            return None
        return self._process.processId() or None

    def error_summary(self) -> str:
        """The engine's one-line error, else the last line it wrote (an exception's)."""
        return self.error_message or (self._tail[-1] if self._tail else "")

    def log_tail(self) -> str:
        text = "\n".join(self._tail)
        return text[-TAIL_CHARS:]

    # -- control ----------------------------------------------------------------------------
    def start(self) -> None:
        if self.running:
            raise RuntimeError("this job is already running")
        self.cancelled, self.exit_code, self.result = False, None, None
        process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()  # the user's environment passes through
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("PYTHONIOENCODING", "utf-8")
        process.setProcessEnvironment(env)
        process.setProgram(self.program)
        process.setArguments(self.arguments)
        process.readyReadStandardOutput.connect(self._read_output)
        process.readyReadStandardError.connect(self._read_output)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._error)
        self._process = process
        process.start()

    def cancel(self) -> None:
        """Ask the child to stop (SIGINT: Ctrl-C for the engine), kill it after the grace."""
        if not self.running or self._process is None:
            return
        self.cancelled = True
        pid = self._process.processId()
        if sys.platform != "win32" and pid:
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                self._process.kill()
        else:
            self._process.terminate()
        self._kill_timer.start(self.grace_ms)

    def wait(self, msecs: int) -> bool:
        """Block until the child ends (at application exit only); returns whether it did."""
        if not self.running or self._process is None:
            return True
        return self._process.waitForFinished(msecs)

    def stop_now(self, msecs: int = 3000) -> None:
        """Cancel, wait up to ``msecs``, then kill: for closing the application."""
        self.cancel()
        if not self.wait(msecs):
            self._kill()
            self.wait(2000)

    def _kill(self) -> None:
        if self.running and self._process is not None:
            self._process.kill()

    # -- output -----------------------------------------------------------------------------
    def _read_output(self) -> None:
        """What either pipe holds: stdout's lines are events, stderr's the log."""
        process = self._process
        if process is not None:
            out, err = process.readAllStandardOutput(), process.readAllStandardError()
            self._stdout = _each_line(self._stdout + bytes(out.data()), self._line)
            self._stderr = _each_line(self._stderr + bytes(err.data()), self._stderr_line)

    def _line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if not text.strip():
            return
        event = parse_event(text)
        if event is None:
            self._tail.append(text)
            return
        if event.kind == RESULT:
            self.result = event
        self.event.emit(event)

    def _stderr_line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        # a terminal progress bar redraws with \r: keep the last state of the line
        text = text.rsplit("\r", 1)[-1]
        if text.strip():
            self._tail.append(text)
            if text.startswith("jradi-engine "):
                self.error_message = text

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            self._tail.append(f"{self.program}: {self._process.errorString()}")
            self._done(CRASHED)

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read_output()
        if self._stdout:
            self._line(self._stdout)
            self._stdout = b""
        if self._stderr:
            self._stderr_line(self._stderr)
            self._stderr = b""
        self._done(CRASHED if status == QProcess.ExitStatus.CrashExit else code)

    def _done(self, code: int) -> None:
        if self.exit_code is not None:
            return
        self._kill_timer.stop()
        self.exit_code = code
        if code != 0 and not self.cancelled:
            if code == CRASHED and not self._tail:
                self._tail.append("the process ended abnormally (crash or killed)")
            self.failed.emit(self.log_tail())
        self.finished.emit(code)


def _each_line(buffer: bytes, each: Callable[[bytes], None]) -> bytes:
    """Hand every complete line of ``buffer`` to ``each``; the unfinished rest."""
    *lines, rest = buffer.split(b"\n")
    for line in lines:
        each(line)
    return rest
