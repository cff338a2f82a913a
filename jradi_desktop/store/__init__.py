"""SQLite history (stdlib sqlite3, WAL): reports, chats, autosaved drafts, file hashes."""

from jradi_desktop.store._db import Database, StoreNotice, default_database_path, move_aside
from jradi_desktop.store._history import ChatMessage, History, ReportRecord

__all__ = [
    "ChatMessage",
    "Database",
    "History",
    "ReportRecord",
    "StoreNotice",
    "default_database_path",
    "move_aside",
]
