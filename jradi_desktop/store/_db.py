"""The SQLite file behind the history: one connection per thread, WAL, schema migrations.

Several app instances may open a fresh data folder at the same moment (two files
double-clicked together), so opening is safe against that: every connection waits up to
``BUSY_TIMEOUT_S`` for a lock, the switch to WAL tolerates another process switching at the
same time, and the schema is created inside one ``BEGIN IMMEDIATE`` transaction that re-reads
``user_version`` after taking the write lock. Every ``CREATE`` also says ``IF NOT EXISTS``, so
a file left half-migrated by an older version is completed, not refused.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

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


class Database:
    """Opens (and migrates) the file; hands each thread its own connection."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_database_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._migrate()

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # The busy timeout is set at open, before any statement: each may meet another
            # process's lock while that one creates the file.
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
            conn.row_factory = sqlite3.Row
            _use_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
            conn.execute("PRAGMA foreign_keys=ON")
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
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                for number, script in enumerate(SCHEMA[version:], start=version + 1):
                    for statement in _statements(script):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={number}")
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
