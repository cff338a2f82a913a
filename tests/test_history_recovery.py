"""A damaged or unwritable history database does not stop the app.

The broken files are made for real: random bytes, a real database cut short, a schema this
version cannot migrate, a data folder that cannot be written. A damaged file is renamed (never
deleted) with its -wal/-shm files and a new history starts; an unwritable folder gives a
history in memory for the session. The user is told, naming the files.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from jradi_desktop.store import Database, History, move_aside
from jradi_desktop.store._db import SCHEMA

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _permissions_enforced() -> list[str] | None:
    """A command prefix under which folder permissions hold: none for a normal user; for
    root, ``setpriv`` dropping the capabilities that override them; None when impossible."""
    if not IS_ROOT:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    caps = "-dac_override,-dac_read_search"
    prefix = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}"]
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    return prefix if probe.returncode == 0 else None


def _random_bytes(path: Path) -> bytes:
    data = os.urandom(8192)
    path.write_bytes(data)
    return data


def _truncated_database(path: Path) -> bytes:
    """A real history with reports in it, cut in half (a copy that stopped part way)."""
    history = History(Database(path))
    image = path.parent / "image.png"
    image.write_bytes(b"png")
    for n in range(200):
        history.add_report(image_path=image, model_name="m", model_path=None, prompt="p" * 400,
                           generated_text=f"所見 {n}: " + "右下肺野に浸潤影。" * 40)  # fmt: skip
    history.db.close()  # the last connection checkpoints the WAL into the file
    data = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(data)
    return data


def _unmigratable(path: Path) -> bytes:
    """A valid SQLite file whose ``reports`` table lacks the columns the schema indexes."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE reports (id INTEGER PRIMARY KEY, text TEXT)")
    conn.commit()
    conn.close()
    return path.read_bytes()


BROKEN = {"random-bytes": _random_bytes, "truncated": _truncated_database,
          "failed-migration": _unmigratable}  # fmt: skip


def _assert_new_history_works(history: History) -> None:
    chat = history.new_chat("新しい履歴")
    history.add_message(chat, "user", "こんにちは")
    assert [m.content for m in history.messages(chat)] == ["こんにちは"]
    conn = history.db.connection()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(SCHEMA)


@pytest.mark.parametrize("make", BROKEN.values(), ids=BROKEN.keys())
def test_damaged_file_is_moved_aside_and_a_new_history_starts(tmp_path: Path, make):
    path = tmp_path / "history.sqlite3"
    original = make(path)
    wal = path.with_name("history.sqlite3-wal")
    wal.write_bytes(b"left over WAL of the damaged file")  # travels with it
    history = History(Database(path, recover=True))

    notice = history.notice
    assert notice is not None and notice.kept
    moved = notice.moved_to
    assert moved is not None and moved.parent == tmp_path
    assert moved.name.startswith("history.sqlite3.corrupt-")
    datetime.strptime(moved.name.removeprefix("history.sqlite3.corrupt-"), "%Y%m%d-%H%M%S")
    assert moved.read_bytes() == original  # renamed, never deleted or changed
    assert Path(f"{moved}-wal").read_bytes() == b"left over WAL of the damaged file"
    for message in (notice.message_ja, notice.message_en):
        assert str(path) in message and str(moved) in message
    assert notice.message_ja.startswith("履歴データベース")
    assert "Traceback" not in str(notice)
    assert not history.db.in_memory
    _assert_new_history_works(history)
    history.db.close()
    assert History(Database(path, recover=True)).notice is None  # the new file is fine


def test_without_recover_a_damaged_file_is_left_alone(tmp_path: Path):
    path = tmp_path / "history.sqlite3"
    data = _random_bytes(path)
    with pytest.raises(sqlite3.DatabaseError):
        Database(path)
    assert path.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["history.sqlite3"]


def test_a_newer_version_is_not_taken_for_damage(tmp_path: Path):
    """A file from a later version (higher user_version) opens as it is."""
    path = tmp_path / "history.sqlite3"
    History(Database(path)).save_draft("k", {"a": 1})
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={len(SCHEMA) + 5}")
    conn.commit()
    conn.close()
    history = History(Database(path, recover=True))
    assert history.notice is None
    assert history.drafts() == {"k": {"a": 1}}


def test_moved_aside_names_do_not_clash(tmp_path: Path):
    now = datetime(2024, 4, 1, 10, 30, 0)
    names = []
    for n in range(3):
        path = tmp_path / "history.sqlite3"
        path.write_bytes(f"damaged {n}".encode())
        names.append(move_aside(path, now).name)
    assert names == ["history.sqlite3.corrupt-20240401-103000",
                     "history.sqlite3.corrupt-20240401-103000-2",
                     "history.sqlite3.corrupt-20240401-103000-3"]  # fmt: skip
    assert (tmp_path / names[1]).read_bytes() == b"damaged 1"


def _assert_in_memory(history: History, path: Path) -> None:
    notice = history.notice
    assert notice is not None and not notice.kept and history.db.in_memory
    assert str(path) in notice.message_ja and str(path) in notice.message_en
    assert "メモリー" in notice.message_ja and "will not be kept" in notice.message_en
    assert "Traceback" not in str(notice)
    _assert_new_history_works(history)
    # every thread sees the same in-memory history (one connection each)
    chat = history.new_chat("スレッド")
    worker = threading.Thread(target=history.add_message, args=(chat, "assistant", "回答"))
    worker.start()
    worker.join()
    assert [m.content for m in history.messages(chat)] == ["回答"]


def test_data_folder_that_cannot_be_created_gives_a_history_in_memory(tmp_path: Path):
    """Works as root too: a regular file stands where the data folder should be."""
    blocker = tmp_path / "JRadi"
    blocker.write_text("not a folder")
    path = blocker / "history.sqlite3"
    history = History(Database(path, recover=True))
    _assert_in_memory(history, path)
    assert blocker.read_text() == "not a folder"


def test_database_path_that_cannot_be_opened_gives_a_history_in_memory(tmp_path: Path):
    """Works as root too: a folder stands where the database file should be."""
    path = tmp_path / "history.sqlite3"
    path.mkdir()
    (path / "keep.txt").write_text("x")
    history = History(Database(path, recover=True))
    _assert_in_memory(history, path)
    assert (path / "keep.txt").read_text() == "x"  # not moved aside: it is not damaged


@pytest.mark.skipif(IS_ROOT, reason="root ignores folder permissions: covered in a child process "
                    "without root's overrides (test_app_starts_with_a_read_only_data_folder) "
                    "and by the tests with a file or a folder in the way")  # fmt: skip
@pytest.mark.parametrize("existing", [False, True], ids=["fresh", "existing-history"])
def test_read_only_data_folder_gives_a_history_in_memory(tmp_path: Path, existing: bool):
    folder = tmp_path / "JRadi"
    folder.mkdir()
    path = folder / "history.sqlite3"
    if existing:
        history = History(Database(path))
        history.save_draft("k", {"a": 1})
        history.db.close()  # the WAL is checkpointed and removed: the folder must be written
        before = path.read_bytes()
    folder.chmod(0o555)
    try:
        history = History(Database(path, recover=True))
        _assert_in_memory(history, path)
    finally:
        folder.chmod(0o755)
    if existing:
        assert path.read_bytes() == before


# --- the app ------------------------------------------------------------------------------------


@pytest.mark.gui
def test_main_window_says_once_what_was_done(qtbot, tmp_path: Path, monkeypatch):
    from PySide6.QtCore import QSettings

    from jradi_desktop.models import ModelRegistry
    from jradi_desktop.ui.main_window import MainWindow

    monkeypatch.setenv("JRADI_DATA_DIR", str(tmp_path))
    original = _random_bytes(tmp_path / "history.sqlite3")
    window = MainWindow(  # the history is the app's own: the data folder's
        registry=ModelRegistry(tmp_path / "models.json"),
        settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.notice_box is not None and window.notice_box.isVisible())
    box = window.notice_box
    moved = window.history.notice.moved_to
    assert not box.isModal()  # the window stays usable
    assert str(tmp_path / "history.sqlite3") in box.text() and str(moved) in box.text()
    assert box.text().index("履歴データベース") < box.text().index("The history database")
    assert str(moved) in window.statusBar().currentMessage()
    assert moved.read_bytes() == original
    window.show_start_notice()
    assert window.notice_box is box  # once
    _assert_new_history_works(window.history)
    window.close()


def _start_app(
    data_dir: Path, tmp_path: Path, prefix: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "JRADI_DATA_DIR": str(data_dir),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}  # fmt: skip
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "jradi_desktop.ui.app", "--quit-after", "0.5"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.gui
@pytest.mark.parametrize("make", BROKEN.values(), ids=BROKEN.keys())
def test_app_starts_with_a_damaged_history(tmp_path: Path, make):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    path = data_dir / "history.sqlite3"
    original = make(path)
    result = _start_app(data_dir, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    [moved] = [p for p in data_dir.glob("history.sqlite3.corrupt-*")
               if not p.name.endswith(("-wal", "-shm"))]  # fmt: skip
    assert str(path) in result.stderr and str(moved) in result.stderr
    assert moved.read_bytes() == original
    history = History(Database(path))  # the new history is a working one
    _assert_new_history_works(history)


@pytest.mark.gui
def test_app_starts_when_the_data_folder_cannot_be_written(tmp_path: Path):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    result = _start_app(blocker, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert str(blocker / "history.sqlite3") in result.stderr
    assert "will not be kept" in result.stderr


@pytest.mark.gui
@pytest.mark.parametrize("existing", [False, True], ids=["fresh", "existing-history"])
def test_app_starts_with_a_read_only_data_folder(tmp_path: Path, existing: bool):
    prefix = _permissions_enforced()
    if prefix is None:
        pytest.skip("root without setpriv: permissions cannot be enforced (the tests with a "
                    "file or a folder in the way cover the same code path)")  # fmt: skip
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    path = data_dir / "history.sqlite3"
    before = None
    if existing:
        history = History(Database(path))
        history.save_draft("k", {"a": 1})
        history.db.close()
        before = path.read_bytes()
    data_dir.chmod(0o555)
    try:
        result = _start_app(data_dir, tmp_path, prefix)
    finally:
        data_dir.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert str(path) in result.stderr and "will not be kept" in result.stderr
    assert "メモリー" in result.stderr
    if before is not None:
        assert path.read_bytes() == before
