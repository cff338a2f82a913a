"""SQLite history (stdlib sqlite3, WAL): reports, chats, autosaved drafts, file hashes."""

from jradi_desktop.store._db import Database, default_database_path
from jradi_desktop.store._history import ChatMessage, History, ReportRecord

__all__ = ["ChatMessage", "Database", "History", "ReportRecord", "default_database_path"]
