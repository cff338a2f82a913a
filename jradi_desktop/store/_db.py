"""The SQLite file behind the history: one connection per thread, WAL, schema migrations.

Several app instances may open a fresh data folder at the same moment (two files
double-clicked together), so opening is safe against that: every connection waits up to
``BUSY_TIMEOUT_S`` for a lock, the switch to WAL tolerates another process switching at the
same time, and the schema is created inside one ``BEGIN IMMEDIATE`` transaction that re-reads
``user_version`` after taking the write lock. Every ``CREATE`` also says ``IF NOT EXISTS``, so
a file left half-migrated by an older version is completed, not refused.

The app opens its history with ``recover=True``: a file that is not a database, fails SQLite's
quick check or cannot be migrated is renamed (never deleted) to
``history.sqlite3.corrupt-YYYYMMDD-HHMMSS`` with its ``-wal``/``-shm`` files and a new, empty
history is made; a folder that cannot be written gives a history in memory for the session.
Either way :attr:`Database.notice` says what happened, and the app starts.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jradi_desktop.errors import OS_REASONS

BUSY_TIMEOUT_S = 15.0

SCHEMA = [
    # version 1
    """
    CREATE TABLE IF NOT EXISTS reports (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        image_path TEXT NOT NULL,
        image_sha256 TEXT NOT NULL,
        model_name TEXT NOT NULL,
        model_sha256 TEXT NOT NULL,
        prompt TEXT NOT NULL,
        indication TEXT NOT NULL DEFAULT '',
        generated_text TEXT NOT NULL DEFAULT '',
        final_text TEXT NOT NULL DEFAULT '',
        seconds REAL
    );
    CREATE INDEX IF NOT EXISTS reports_created ON reports(created_at);
    CREATE TABLE IF NOT EXISTS chats (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        model_name TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE IF NOT EXISTS messages (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS messages_chat ON messages(chat_id, id);
    CREATE TABLE IF NOT EXISTS drafts (
        key TEXT PRIMARY KEY,
        content TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS file_hashes (
        path TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        sha256 TEXT NOT NULL
    );
    """,
]


def default_database_path() -> Path:
    from jradi_desktop.data_folder import data_folder

    return data_folder() / "history.sqlite3"


def _statements(script: str) -> list[str]:
    """One migration script as single statements (``executescript`` would commit first)."""
    statements, current = [], ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n\t;"):
                statements.append(current.strip())
            current = ""
    return statements


def _is_busy(error: sqlite3.OperationalError) -> bool:
    message = str(error).lower()
    return "locked" in message or "busy" in message


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL. Another process may hold the lock or be switching too: then wait
    until the file is in WAL (its switch counts) or the busy timeout has passed."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
            try:
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            except sqlite3.OperationalError as again:
                if not _is_busy(again):
                    raise
                mode = ""
            if str(mode).lower() == "wal":
                return
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# SQLite's primary result codes (https://sqlite.org/rescode.html) that mean "damaged file".
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26

# Why a history file or folder could not be used, (Japanese, English), by SQLite result code
# and by errno.
_SQLITE_REASONS: dict[int, tuple[str, str]] = {
    3: ("アクセスが許可されていません", "access permission denied"),
    5: ("別のプログラムが使用中です", "the database is locked by another program"),
    6: ("別のプログラムが使用中です", "the database is locked by another program"),
    8: ("読み取り専用です", "the database is read-only"),
    10: ("ディスクの読み書きでエラーが起きました", "disk I/O error"),
    13: ("ディスクの空き容量が不足しています", "no space left on device"),
    14: ("ファイルを開けません", "unable to open the database file"),
    _SQLITE_CORRUPT: ("ファイルの内容が壊れています", "the database disk image is malformed"),
    _SQLITE_NOTADB: ("データベースのファイルではありません", "the file is not a database"),
}
_OS_REASONS: dict[int, tuple[str, str]] = {
    **OS_REASONS,
    errno.EACCES: ("書き込みの権限がありません", "permission denied"),
    errno.EEXIST: ("フォルダーの場所にファイルがあります", "a file is where the folder should be"),
    errno.ENOTDIR: ("フォルダーの場所にファイルがあります", "a file is where a folder should be"),
}


@dataclass(frozen=True)
class StoreNotice:
    """What :class:`Database` did to start anyway, for the user: shown once at start.

    ``moved_to``: where a damaged file was renamed. ``kept``: False when the history lives
    in memory and is lost when the app closes.
    """

    message_ja: str
    message_en: str
    path: Path
    moved_to: Path | None = None
    kept: bool = True

    def message(self, language: str = "ja") -> str:
        return self.message_ja if language.lower().startswith("ja") else self.message_en

    def __str__(self) -> str:
        return f"{self.message_ja}\n{self.message_en}"


class _Damaged(Exception):
    """The file opened but is not a usable history (reason in both languages)."""

    def __init__(self, reason_ja: str, reason_en: str) -> None:
        super().__init__(reason_en)
        self.reason = (reason_ja, reason_en)


def _reason(exc: BaseException) -> tuple[str, str]:
    """Why ``exc`` happened, one line in each language (never a traceback)."""
    if isinstance(exc, _Damaged):
        return exc.reason
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return _SQLITE_REASONS.get(code, (detail, detail))
    if isinstance(exc, OSError):
        detail = exc.strerror or type(exc).__name__
        return _OS_REASONS.get(exc.errno or 0, (detail, detail))
    return (type(exc).__name__, type(exc).__name__)


def _is_damage(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says the file itself is bad (not locked, read-only or out of space)."""
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    return code in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def _apply_migrations(conn: sqlite3.Connection, version: int) -> None:
    """Run the schema scripts after ``version`` on ``conn`` (in the caller's transaction)."""
    for number, script in enumerate(SCHEMA[version:], start=version + 1):
        for statement in _statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={number}")


def _companions(path: Path) -> list[tuple[Path, str]]:
    """The database file and its WAL and shared-memory files, with their name suffixes."""
    return [(path.with_name(path.name + suffix), suffix) for suffix in ("", "-wal", "-shm")]


def move_aside(path: Path, now: datetime | None = None) -> Path:
    """Rename a damaged database to ``<name>.corrupt-YYYYMMDD-HHMMSS`` (``-2``, ``-3`` … when
    taken), its ``-wal`` and ``-shm`` files alongside; returns the new path. Nothing is
    deleted: the file may still hold reports someone can recover."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = path.with_name(f"{path.name}.corrupt-{stamp}")
    target, n = base, 1
    while any(Path(f"{target}{suffix}").exists() for _, suffix in _companions(target)):
        n += 1
        target = base.with_name(f"{base.name}-{n}")
    for source, suffix in _companions(path):
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    return target


class Database:
    """Opens (and migrates) the file; hands each thread its own connection.

    ``recover``: start anyway when the file is damaged or cannot be written (see the module's
    docstring); :attr:`notice` then says what was done. Without it, errors are raised.
    """

    def __init__(self, path: Path | None = None, *, recover: bool = False) -> None:
        self.path = path or default_database_path()
        self._local = threading.local()
        self._uri: str | None = None  # a process-wide in-memory database, when set
        self._keeper: sqlite3.Connection | None = None  # keeps that database alive
        self.notice: StoreNotice | None = None
        if recover:
            self._open_recovering()
        else:
            self._open()

    @property
    def in_memory(self) -> bool:
        """True when nothing of this history is written to disk (an unwritable folder)."""
        return self._uri is not None

    def _open(self, recovering: bool = False) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if recovering:
            self._precheck()
        self._migrate()
        if recovering:
            self._check_writable()

    def _precheck(self) -> None:
        """Read only: is the file there a history this version can use? SQLite's quick check,
        then the missing migrations tried on a copy in memory. Nothing is written (opening it
        for writing would switch it to WAL and drop its -wal file), so a damaged file is
        moved aside exactly as it was. Raises :class:`_Damaged`; any other trouble (locked,
        unreadable) is left to the normal open to meet and report."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        try:
            conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=5.0)
        except sqlite3.Error:
            return
        try:
            try:
                rows = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
                version = conn.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.Error as exc:
                if _is_damage(exc):
                    raise _Damaged(*_reason(exc)) from exc
                return
            if rows != ["ok"]:
                first = (rows[0].splitlines() or ["?"])[0][:200] if rows else "?"
                raise _Damaged(
                    f"整合性チェックに失敗しました（{first}）",
                    f"the integrity check failed ({first})",
                )
            if version < len(SCHEMA):
                self._try_migration(conn, version)
        finally:
            conn.close()

    @staticmethod
    def _try_migration(conn: sqlite3.Connection, version: int) -> None:
        copy = sqlite3.connect(":memory:")
        try:
            conn.backup(copy)
            _apply_migrations(copy, version)
        except sqlite3.Error as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise _Damaged(
                f"この版の形式に更新できません（{detail}）", f"it cannot be migrated ({detail})"
            ) from exc
        finally:
            copy.close()

    def _check_writable(self) -> None:
        """Take the write lock and give it back: a read-only file opens and reads fine, and
        would fail only at the first report."""
        conn = self.connection()
        isolation = conn.isolation_level
        conn.isolation_level = None
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        finally:
            conn.isolation_level = isolation

    def _open_recovering(self) -> None:
        try:
            self._open(recovering=True)
            return
        except _Damaged as damaged:
            self._close_all()
            problem: BaseException = damaged
        except (OSError, sqlite3.Error) as exc:
            self._close_all()
            self._in_memory(exc)
            return
        try:
            moved = move_aside(self.path)
        except OSError as exc:
            self._in_memory(exc)
            return
        try:
            self._open(recovering=True)
        except (_Damaged, OSError, sqlite3.Error) as exc:
            self._close_all()
            self._in_memory(exc, moved_to=moved)
            return
        reason_ja, reason_en = _reason(problem)
        self.notice = StoreNotice(
            f"履歴データベース「{self.path}」が壊れていたため（{reason_ja}）、"
            f"「{moved}」に名前を変えて残し、新しい空の履歴で起動しました。"
            "元のファイルは削除していません。以前のレポートとチャットは履歴に表示されません。",
            f'The history database "{self.path}" was damaged ({reason_en}). It was renamed to '
            f'"{moved}" (not deleted) and a new, empty history was started; earlier reports '
            "and chats are not shown in the history.",
            path=self.path,
            moved_to=moved,
        )

    def _in_memory(self, exc: BaseException, moved_to: Path | None = None) -> None:
        """Keep this session's history in memory, and say why and what that means."""
        name = f"jradi-history-{uuid.uuid4().hex}"
        # memdb (SQLite >= 3.36) is shared by this process's connections and honours the busy
        # timeout; a shared-cache memory database is the fallback for an older SQLite.
        for uri in (f"file:/{name}?vfs=memdb", f"file:{name}?mode=memory&cache=shared"):
            try:
                self._keeper = sqlite3.connect(uri, uri=True, check_same_thread=False)
            except sqlite3.OperationalError:
                continue
            self._uri = uri
            break
        self._migrate()
        reason_ja, reason_en = _reason(exc)
        moved_ja = f"壊れていた履歴は「{moved_to}」に名前を変えて残しました。" if moved_to else ""
        moved_en = f' The damaged history was renamed to "{moved_to}".' if moved_to else ""
        self.notice = StoreNotice(
            f"履歴データベース「{self.path}」に書き込めません（{reason_ja}）。{moved_ja}"
            "今回は履歴をメモリー上にだけ置いて起動しました。アプリを閉じると、この間のレポートと"
            "チャットの履歴は残りません。フォルダーの権限と空き容量を確認するか、環境変数 "
            "JRADI_DATA_DIR で書き込めるフォルダーを指定してください。",
            f'Cannot write the history database "{self.path}" ({reason_en}).{moved_en} This '
            "session keeps its history in memory only: its reports and chats will not be kept "
            "after the app closes. Check the folder's permissions and free space, or set "
            "JRADI_DATA_DIR to a folder that can be written.",
            path=self.path,
            moved_to=moved_to,
            kept=False,
        )

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # The busy timeout is set at open, before any statement: each may meet another
            # process's lock while that one creates the file.
            if self._uri is not None:
                conn = sqlite3.connect(self._uri, uri=True, timeout=BUSY_TIMEOUT_S)
            else:
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
            try:
                conn.row_factory = sqlite3.Row
                _use_wal(conn)
                conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints
                conn.execute("PRAGMA foreign_keys=ON")
            except BaseException:
                conn.close()  # not kept: the file can be renamed (Windows) and opened again
                raise
            self._local.conn = conn
        return conn

    def _migrate(self) -> None:
        """Apply the missing migrations in one write transaction. The version is read again
        after the write lock is held, so of several processes opening a fresh file the first
        creates the schema and the others find it done."""
        conn = self.connection()
        if conn.execute("PRAGMA user_version").fetchone()[0] >= len(SCHEMA):
            return
        isolation = conn.isolation_level
        conn.isolation_level = None  # explicit transaction: BEGIN IMMEDIATE ... COMMIT
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                _apply_migrations(conn, conn.execute("PRAGMA user_version").fetchone()[0])
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.isolation_level = isolation

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _close_all(self) -> None:
        """Close this thread's connection before the file is renamed (only this thread has
        one while the database opens)."""
        with contextlib.suppress(sqlite3.Error):
            self.close()
