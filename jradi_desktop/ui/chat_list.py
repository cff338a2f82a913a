"""The list of QA conversations, newest first: a title and when it was last written to."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem


class ChatList(QListWidget):
    """Each item holds its chat id in ``Qt.ItemDataRole.UserRole``."""

    def fill(self, chats: Iterable[tuple[int, str, str]], selected: int | None) -> None:
        """Show ``chats`` (id, title, ISO time of the last change) keeping ``selected`` current,
        without emitting selection signals."""
        self.blockSignals(True)
        self.clear()
        metrics = self.fontMetrics()
        for chat_id, title, updated in chats:
            when = datetime.fromisoformat(updated).astimezone().strftime("%m/%d %H:%M")
            item = QListWidgetItem(f"{title}\n{when}")
            item.setData(Qt.ItemDataRole.UserRole, chat_id)
            # two lines high by the Japanese glyphs (a fallback font is taller than the Latin)
            line = max(metrics.lineSpacing(), metrics.boundingRect(title).height())
            item.setSizeHint(QSize(0, 2 * line + 6))
            item.setToolTip(title)
            self.addItem(item)
            if chat_id == selected:
                self.setCurrentItem(item)
        self.blockSignals(False)
