"""The inference worker process: streaming, cancel, crash recovery, logs and load errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest
from inference_helpers import HELLO, LONG, SHORT, _image, _run

from jradi_desktop.inference import (
    InferenceError,
    InferenceWorker,
    InvalidRequestError,
    ModelFileNotFoundError,
    WorkerCrashedError,
    build_report_messages,
)
from jradi_desktop.inference._worker import remove_stale_logs
from jradi_desktop.models import ModelSpec

# -- the worker process ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def worker(specs):
    with InferenceWorker(specs["gguf-vlm"]) as w:
        yield w


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_worker_streams_the_backends_text(worker, backends):
    backend = backends("gguf-vlm")
    for messages, images in [(build_report_messages(), [_image()]), (HELLO, [])]:
        expected = _run(backend, messages, images)[1]
        pieces = list(worker.generate(messages, images, SHORT))
        assert "".join(pieces) == expected and pieces
        assert worker.finish_reason == backend.finish_reason
        assert worker.generated_tokens == backend.generated_tokens
    assert worker.info["backend"] == "gguf" and worker.info["has_vision"]


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_worker_cancel_and_next_request(worker, backends):
    stream = worker.generate(HELLO, (), LONG)
    next(stream)
    with pytest.raises(InvalidRequestError, match="already generating"):
        next(worker.generate(HELLO))
    worker.cancel()
    assert list(stream) == [] and worker.finish_reason == "cancelled"
    expected = _run(backends("gguf-vlm"), HELLO)[1]
    assert "".join(worker.generate(HELLO, (), SHORT)) == expected  # the old reply was drained


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_worker_killed_mid_generation_reports_and_recovers(worker, backends):
    worker.wait_ready()
    pid = worker.pid
    stream = worker.generate(HELLO, (), LONG)
    next(stream)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(WorkerCrashedError, match="killed by SIGKILL while generating") as info:
        list(stream)
    assert info.value.exitcode == -signal.SIGKILL
    if info.value.log_path:  # kept for the user after a crash if it has traces
        assert info.value.log_path in info.value.message("en")
        os.unlink(info.value.log_path)
    else:  # nothing was logged: no empty file left behind, none named
        assert "log" not in info.value.message("en")
    assert "推論プロセス" in info.value.message("ja") and "自動的に再起動" in info.value.message(
        "ja"
    )
    expected = _run(backends("gguf-vlm"), HELLO)[1]
    assert "".join(worker.generate(HELLO, (), SHORT)) == expected
    assert worker.pid not in (None, pid)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_request_that_crashes_the_worker_is_reported_once_with_one_log(
    specs, backends, tmp_path, monkeypatch
):
    """A deterministic native crash (a real SIGSEGV in the child, tests/crash_shim) is
    reported once: the request is not sent to a second child, one crash log is kept in the
    data folder's logs/, and the next, different request gets a fresh worker."""
    from pathlib import Path

    count = tmp_path / "crashes.txt"
    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JRADI_TEST_CRASH_COUNT", str(count))
    shim = Path(__file__).parent / "crash_shim"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")]))
    crash = [{"role": "user", "content": "CRASH_ON_THIS"}]
    with InferenceWorker(specs["gguf-base"]) as worker:
        worker.wait_ready()
        first_pid = worker.pid
        with pytest.raises(WorkerCrashedError, match="SIGSEGV") as info:
            list(worker.generate(crash, (), SHORT))
        assert count.read_text().splitlines() == ["crash"]  # asked once, not re-sent
        logs = list((tmp_path / "data" / "logs").glob("jradi-inference-*.log"))
        assert [str(p) for p in logs] == [info.value.log_path]
        assert "Segmentation fault" in logs[0].read_text(errors="replace")
        assert info.value.log_path in info.value.message("en")
        expected = _run(backends("gguf-base"), HELLO)[1]
        assert "".join(worker.generate(HELLO, (), SHORT)) == expected
        assert worker.pid not in (None, first_pid)
    assert count.read_text().splitlines() == ["crash"]


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_worker_closed_from_another_thread_ends_the_stream_quietly(worker, backends):
    pieces, errors, first = [], [], threading.Event()

    def consume():
        try:
            for piece in worker.generate(HELLO, (), LONG):
                pieces.append(piece)
                first.set()
                time.sleep(0.2)  # a slow reader: close() comes before the reply is read
        except Exception as exc:
            errors.append(exc)
        first.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert first.wait(30)
    started = time.perf_counter()
    worker.close()
    consumer.join(10)
    assert not consumer.is_alive() and errors == [] and pieces
    assert time.perf_counter() - started < 3.0 and worker.pid is None
    assert worker.finish_reason == "cancelled"
    expected = _run(backends("gguf-vlm"), HELLO)[1]
    assert "".join(worker.generate(HELLO, (), SHORT)) == expected  # starts a new child


def _wait_gone(pid: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, f"process {pid} still runs"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_worker_sigterm_of_the_child_leaves_no_empty_log(specs):
    with InferenceWorker(specs["gguf-base"]) as worker:
        worker.wait_ready()
        pid, log = worker.pid, worker.log_path
        assert os.path.getsize(log) == 0
        os.kill(pid, signal.SIGTERM)
        _wait_gone(pid)
        assert "".join(worker.generate(HELLO, (), SHORT))  # a fresh child answers
        assert not os.path.exists(log) and worker.pid not in (None, pid)
        second = worker.log_path
    assert not os.path.exists(second)  # a normal close removes the log too


APP = """
import os, signal, sys
from pathlib import Path
from jradi_desktop.inference import InferenceWorker
from jradi_desktop.models import ModelSpec

if __name__ == "__main__":
    worker = InferenceWorker(ModelSpec("base", "gguf", Path(sys.argv[1]), threads=1))
    worker.wait_ready()
    print(worker.pid, worker.log_path, flush=True)
    os.kill(os.getpid(), signal.SIGTERM if sys.argv[2] == "term" else signal.SIGKILL)
"""


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["term", "kill"])
def test_worker_of_a_killed_app_leaves_no_empty_log(demo_gguf, tmp_path, how):
    """The app dies without closing its worker: the child sees the pipe close and removes its
    empty log itself."""
    script = tmp_path / "app.py"
    script.write_text(APP, encoding="utf-8")
    app = subprocess.run([sys.executable, str(script), str(demo_gguf["base"]), how],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert app.returncode == -(signal.SIGTERM if how == "term" else signal.SIGKILL), app.stderr
    child, log = app.stdout.split()
    _wait_gone(int(child))
    assert not os.path.exists(log)


def test_empty_logs_of_dead_apps_are_removed_at_the_next_start(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(dead.stdout)
    files = {
        "stale": tmp_path / f"jradi-inference-{dead_pid}-abc.log",
        "crash": tmp_path / f"jradi-inference-{dead_pid}-def.log",
        "running": tmp_path / f"jradi-inference-{os.getpid()}-ghi.log",
        "old": tmp_path / "jradi-inference-jkl_mno.log",
        "new": tmp_path / "jradi-inference-pqrstu.log",
        "other": tmp_path / "notes.log",
    }
    for path in files.values():
        path.touch()
    files["crash"].write_text("Fatal Python error: Segmentation fault\n")
    os.utime(files["old"], (time.time() - 2 * 86400,) * 2)
    assert sorted(remove_stale_logs(str(tmp_path))) == sorted(
        [str(files["stale"]), str(files["old"])]
    )
    kept = {"crash", "running", "new", "other"}
    assert {name for name, path in files.items() if path.exists()} == kept


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_worker_brings_back_the_load_error(tmp_path):
    missing = tmp_path / "なし" / "model.gguf"
    with InferenceWorker(ModelSpec("missing", "gguf", missing)) as worker:
        with pytest.raises(ModelFileNotFoundError, match="Model file not found") as info:
            list(worker.generate(HELLO))
        assert isinstance(info.value, InferenceError) and info.value.path == str(missing)
        assert worker.pid is None


def test_worker_logs_go_to_the_temp_folder_when_the_data_folder_cannot_be_written(
    tmp_path, monkeypatch
):
    """A data folder that cannot be created (its parent is a file; as root, permissions are
    not enforced) must not stop a model from loading: the logs go to the temp folder."""
    from jradi_desktop.data_folder import logs_folder

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("JRADI_DATA_DIR", str(blocker / "data"))
    folder = logs_folder()
    assert folder.is_dir() and os.access(folder, os.W_OK) and blocker not in folder.parents
