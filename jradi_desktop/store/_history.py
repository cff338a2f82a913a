"""Reports, chats and autosaved drafts: what the clinician wrote is never lost."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jradi_desktop.store._db import Database, StoreNotice


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class ReportRecord:
    id: int
    created_at: str
    updated_at: str
    image_path: str
    image_sha256: str
    model_name: str
    model_sha256: str
    prompt: str
    indication: str
    generated_text: str
    final_text: str
    seconds: float | None


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str
    created_at: str


class History:
    """The history store. Safe to use from several threads (one connection each).

    Without ``database`` it opens the user's history and starts anyway when that file is
    damaged or its folder cannot be written (:attr:`notice` then says what was done).
    """

    def __init__(self, database: Database | None = None) -> None:
        self.db = database or Database(recover=True)

    @property
    def notice(self) -> StoreNotice | None:
        """What was done to open the history (a damaged file moved aside, a history kept in
        memory only), for the user; None when it opened as usual."""
        return self.db.notice

    # -- file identity --------------------------------------------------------------------
    def file_sha256(self, path: str | Path) -> str:
        """SHA-256 of a file's content, cached by (path, size, mtime) so a 5 GB model is
        hashed once, not at every report."""
        path = Path(path).resolve()
        stat = path.stat()
        conn = self.db.connection()
        row = conn.execute(
            "SELECT sha256 FROM file_hashes WHERE path=? AND size=? AND mtime_ns=?",
            (str(path), stat.st_size, stat.st_mtime_ns),
        ).fetchone()
        if row:
            return row["sha256"]
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(4 * 1024 * 1024), b""):
                digest.update(block)
        value = digest.hexdigest()
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?)",
                (str(path), stat.st_size, stat.st_mtime_ns, value),
            )
        return value

    # -- reports --------------------------------------------------------------------------
    def add_report(
        self,
        *,
        image_path: str | Path,
        model_name: str,
        model_path: str | Path | None,
        prompt: str,
        indication: str = "",
        generated_text: str = "",
        final_text: str | None = None,
        seconds: float | None = None,
    ) -> int:
        now = _now()
        model_hash = (
            self.file_sha256(model_path) if model_path and Path(model_path).is_file() else ""
        )
        conn = self.db.connection()
        with conn:
            cursor = conn.execute(
                "INSERT INTO reports (created_at, updated_at, image_path, image_sha256, "
                "model_name, model_sha256, prompt, indication, generated_text, final_text, "
                "seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now, now, str(image_path), self.file_sha256(image_path), model_name,
                    model_hash, prompt, indication, generated_text,
                    generated_text if final_text is None else final_text, seconds,
                ),
            )  # fmt: skip
        return int(cursor.lastrowid)

    def update_final_text(self, report_id: int, final_text: str) -> None:
        conn = self.db.connection()
        with conn:
            conn.execute(
                "UPDATE reports SET final_text=?, updated_at=? WHERE id=?",
                (final_text, _now(), report_id),
            )

    def report(self, report_id: int) -> ReportRecord:
        row = self.db.connection().execute("SELECT * FROM reports WHERE id=?", (report_id,))
        found = row.fetchone()
        if found is None:
            raise KeyError(f"no report {report_id}")
        return ReportRecord(**dict(found))

    def search_reports(self, text: str = "", limit: int = 200) -> list[ReportRecord]:
        """Newest first; ``text`` matches the report texts, indication or image path."""
        pattern = _like(text)
        rows = self.db.connection().execute(
            "SELECT * FROM reports WHERE ? = '' OR final_text LIKE ? ESCAPE '\\' "
            "OR generated_text LIKE ? ESCAPE '\\' OR indication LIKE ? ESCAPE '\\' "
            "OR image_path LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT ?",
            (text, pattern, pattern, pattern, pattern, limit),
        )
        return [ReportRecord(**dict(r)) for r in rows]

    # -- chats ----------------------------------------------------------------------------
    def new_chat(self, title: str, model_name: str = "") -> int:
        now = _now()
        conn = self.db.connection()
        with conn:
            cursor = conn.execute(
                "INSERT INTO chats (title, created_at, updated_at, model_name) VALUES (?,?,?,?)",
                (title, now, now, model_name),
            )
        return int(cursor.lastrowid)

    def add_message(self, chat_id: int, role: str, content: str) -> None:
        now = _now()
        conn = self.db.connection()
        with conn:
            conn.execute(
                "INSERT INTO messages (chat_id, role, content, created_at) VALUES (?,?,?,?)",
                (chat_id, role, content, now),
            )
            conn.execute("UPDATE chats SET updated_at=? WHERE id=?", (now, chat_id))

    def replace_last_message(self, chat_id: int, role: str, content: str) -> None:
        """For regenerate: the newest message of ``role`` gets the new text."""
        conn = self.db.connection()
        with conn:
            conn.execute(
                "UPDATE messages SET content=?, created_at=? WHERE id=(SELECT max(id) FROM "
                "messages WHERE chat_id=? AND role=?)",
                (content, _now(), chat_id, role),
            )

    def messages(self, chat_id: int) -> list[ChatMessage]:
        rows = self.db.connection().execute(
            "SELECT role, content, created_at FROM messages WHERE chat_id=? ORDER BY id",
            (chat_id,),
        )
        return [ChatMessage(**dict(r)) for r in rows]

    def chats(self, text: str = "") -> list[tuple[int, str, str]]:
        """(id, title, updated_at), newest first, optionally those whose text matches."""
        pattern = _like(text)
        rows = self.db.connection().execute(
            "SELECT id, title, updated_at FROM chats c WHERE ? = '' OR title LIKE ? ESCAPE '\\' "
            "OR EXISTS (SELECT 1 FROM messages m WHERE m.chat_id=c.id AND m.content LIKE ? "
            "ESCAPE '\\') ORDER BY updated_at DESC",
            (text, pattern, pattern),
        )
        return [(r["id"], r["title"], r["updated_at"]) for r in rows]

    def delete_chat(self, chat_id: int) -> None:
        conn = self.db.connection()
        with conn:
            conn.execute("DELETE FROM chats WHERE id=?", (chat_id,))

    # -- drafts ---------------------------------------------------------------------------
    def save_draft(self, key: str, content: dict[str, Any]) -> None:
        """Autosave: committed at once, so a kill -9 a second later loses nothing."""
        conn = self.db.connection()
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO drafts VALUES (?, ?, ?)",
                (key, json.dumps(content, ensure_ascii=False), _now()),
            )

    def drafts(self) -> dict[str, dict[str, Any]]:
        rows = self.db.connection().execute("SELECT key, content FROM drafts ORDER BY updated_at")
        return {r["key"]: json.loads(r["content"]) for r in rows}

    def discard_draft(self, key: str) -> None:
        conn = self.db.connection()
        with conn:
            conn.execute("DELETE FROM drafts WHERE key=?", (key,))
