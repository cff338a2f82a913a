"""The medical QA chat: conversations on the left; the transcript, the question box and
multiple-choice questions on the right.

A turn is stored (question and answer together) only when its answer is complete, so a failed
turn leaves nothing half-written in the history; until then the question lives in the input
box and in a crash draft, and goes back into the box if the generation fails.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from jradi_desktop.atomic_file import replace_atomically
from jradi_desktop.inference import GenerationParams
from jradi_desktop.pipeline import ask
from jradi_desktop.store import History
from jradi_desktop.ui.chat_list import ChatList
from jradi_desktop.ui.chat_text import (
    MAX_CHOICES,
    MIN_CHOICES,
    conversation_markdown,
    split_question,
    transcript_html,
)
from jradi_desktop.ui.chat_turn import ChatTurn, crash_draft
from jradi_desktop.ui.generation import GenerationController, GenerationJob, JobOutcome, error_text
from jradi_desktop.ui.widgets import column, note_label, row

DRAFT_KEY = "chat"
RENDER_MS = 40  # streamed pieces are drawn at most this often


class ChatPanel(QWidget):
    chatChanged = Signal(object)  # the chat shown: id | None

    def __init__(
        self,
        controller: GenerationController,
        history: History,
        params: GenerationParams | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.history = history
        self.params = params or GenerationParams(max_new_tokens=512)
        self._chat_id: int | None = None
        self._messages: list[dict[str, str]] = []
        self._pending: ChatTurn | None = None
        self._error = ""
        self._render_timer = QTimer(self, singleShot=True, interval=RENDER_MS)
        self._render_timer.timeout.connect(self.render)
        self._draft_timer = QTimer(self, singleShot=True, interval=1000)
        self._draft_timer.timeout.connect(self._save_draft)

        self.search = QLineEdit(clearButtonEnabled=True)
        self.chat_list = ChatList()
        self.new_button = QPushButton()
        self.delete_button = QPushButton()
        self.disclaimer = note_label("chatDisclaimer")
        self.transcript = QTextBrowser(openLinks=False)
        self.choice_mode = QCheckBox()
        self.choices = QPlainTextEdit()
        self.choices.setMaximumHeight(110)
        self.choices_label = QLabel()
        self.input = QPlainTextEdit()
        self.input.setMaximumHeight(120)
        self.send_button = QPushButton(default=True)
        self.stop_button = QPushButton()
        self.regenerate_button = QPushButton()
        self.export_button = QPushButton()
        self.status = QLabel(wordWrap=True)

        chats = row(self.new_button, self.delete_button)
        left = column(self.search, (self.chat_list, 1), chats, self.export_button)
        self.choices_box = column(self.choices_label, self.choices)
        self.choices_box.setVisible(False)  # shown in multiple-choice mode
        buttons = row(self.choice_mode, None, self.regenerate_button, self.stop_button,
                      self.send_button)  # fmt: skip
        parts = (self.disclaimer, (self.transcript, 1), self.input, self.choices_box, buttons)
        right = column(*parts, self.status)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([220, 600])
        QVBoxLayout(self).addWidget(splitter)

        self.search.textChanged.connect(self.refresh_chats)
        self.chat_list.currentItemChanged.connect(self._chat_selected)
        self.new_button.clicked.connect(self.new_chat)
        self.delete_button.clicked.connect(self._confirm_delete)
        self.choice_mode.toggled.connect(self.choices_box.setVisible)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        self.regenerate_button.clicked.connect(self.regenerate)
        self.export_button.clicked.connect(self._export_dialog)
        self.input.textChanged.connect(self._draft_timer.start)
        self.choices.textChanged.connect(self._draft_timer.start)
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys, slot in (("Ctrl+Return", self.send), ("Ctrl+Enter", self.send)):
            QShortcut(QKeySequence(keys), self, slot, context=context)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.stop, context=context)
        controller.busyChanged.connect(self._update_buttons)

        draft = history.drafts().get(DRAFT_KEY) or {}
        self.input.setPlainText(draft.get("question", ""))
        self.choices.setPlainText(draft.get("choices", ""))
        self.choice_mode.setChecked(bool(draft.get("choice_mode")))
        self.retranslate()
        self.refresh_chats()

    # -- text -------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.search.setPlaceholderText(self.tr("会話を検索"))
        self.new_button.setText(self.tr("新しい会話"))
        self.delete_button.setText(self.tr("削除"))
        self.disclaimer.setText(
            self.tr(
                "医療上の判断は必ず医師が行ってください。"
                "AI の回答には誤りが含まれることがあります。"
            )
        )
        self.transcript.setPlaceholderText(
            self.tr("医療に関する質問を下の欄に入力して、送信してください。")
        )
        self.choice_mode.setText(self.tr("選択肢問題モード"))
        self.choices_label.setText(self.tr("選択肢（1 行に 1 つ、2〜8 個）"))
        self.choices.setPlaceholderText(self.tr("例：\n肺炎\n気胸\n胸水"))
        self.input.setPlaceholderText(self.tr("質問を入力（Ctrl+Enter で送信）"))
        self.send_button.setText(self.tr("送信 (Ctrl+Enter)"))
        self.stop_button.setText(self.tr("停止 (Esc)"))
        self.regenerate_button.setText(self.tr("再生成"))
        self.export_button.setText(self.tr("Markdown に書き出し…"))
        self.status.setText(self.tr("回答を生成中…（Esc で停止）") if self._pending else "")
        self.render()
        self._update_buttons()

    # -- conversations ----------------------------------------------------------------------
    @property
    def current_chat(self) -> int | None:
        return self._chat_id

    @property
    def job(self) -> GenerationJob | None:
        """The job answering the question being answered (None when none is)."""
        return self._pending.job if self._pending else None

    def refresh_chats(self) -> None:
        """Fill the list (newest first; the search box filters) keeping the selection."""
        self.chat_list.fill(self.history.chats(self.search.text().strip()), self._chat_id)
        self._update_buttons()

    def open_chat(self, chat_id: int | None) -> None:
        self._chat_id = chat_id
        self._error = ""
        if self._pending is None:
            self.status.clear()
        self._reload()
        self.refresh_chats()
        self.chatChanged.emit(chat_id)

    def new_chat(self) -> None:
        """An empty transcript; the chat is stored with its first question."""
        self.open_chat(None)
        self.input.setFocus()

    def delete_chat(self, chat_id: int | None = None) -> None:
        chat_id = self._chat_id if chat_id is None else chat_id
        if chat_id is None or (self._pending and self._pending.chat_id == chat_id):
            return
        self.history.delete_chat(chat_id)
        self.open_chat(None if chat_id == self._chat_id else self._chat_id)

    def _confirm_delete(self) -> None:
        answer = QMessageBox.question(self, self.tr("削除"), self.tr("この会話を削除しますか？"))
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_chat()

    def _chat_selected(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self.open_chat(item.data(Qt.ItemDataRole.UserRole))

    def _reload(self) -> None:
        rows = self.history.messages(self._chat_id) if self._chat_id is not None else []
        self._messages = [{"role": m.role, "content": m.content} for m in rows]
        self.render()
        self._update_buttons()

    # -- asking -----------------------------------------------------------------------------
    def send(self) -> bool:
        """Ask the question in the input box (with the choices in multiple-choice mode)."""
        question = self.input.toPlainText().strip()
        if not question or self._pending is not None:
            return False
        choices = None
        if self.choice_mode.isChecked():
            choices = [c.strip() for c in self.choices.toPlainText().splitlines() if c.strip()]
            if not MIN_CHOICES <= len(choices) <= MAX_CHOICES:
                rule = self.tr("選択肢は 2〜8 個、1 行に 1 つずつ入力してください（現在 {0} 個）。")
                self._set_status(rule.format(len(choices)), error=True)
                return False
        turn = ChatTurn(self._chat_id, question, choices, history=list(self._messages))
        turn.typed = (self.input.toPlainText(), self.choices.toPlainText())
        if not self._start(turn):
            return False
        self.input.clear()
        if choices:
            self.choices.clear()
        self._save_draft()
        return True

    def regenerate(self) -> bool:
        """Answer the last question again; the new answer replaces the old one."""
        users = [i for i, m in enumerate(self._messages) if m["role"] == "user"]
        if not users or self._pending is not None:
            return False
        question, choices = split_question(self._messages[users[-1]]["content"])
        turn = ChatTurn(self._chat_id, question, choices, regenerate=True)
        turn.history = self._messages[: users[-1]]
        return self._start(turn)

    def stop(self) -> None:
        if self._pending is not None and self._pending.job is not None:
            self._pending.job.cancel()
            self._set_status(self.tr("停止しています…"))

    def _start(self, turn: ChatTurn) -> bool:
        params, question, choices, past = self.params, turn.question, turn.choices, turn.history

        def job(worker: Any, emit: Any, _progress: Any) -> str:
            pieces = []
            for piece in ask(worker, question, choices=choices, history=past, params=params):
                pieces.append(piece)
                emit(piece)
            return "".join(pieces)

        if self.controller.spec is None:
            self._set_status(
                self.tr("モデルが読み込まれていません。メニューの「モデル」から追加してください。"),
                error=True,
            )
            return False
        slots = {"piece": self._piece, "finished": self._finished, "failed": self._failed}
        turn.job = self.controller.run("chat", job, slots)
        if turn.job is None:
            self._set_status(self.tr("ほかの生成が実行中です。終わってから送信してください。"))
            return False
        if turn.chat_id is None:
            title = " ".join(question.split())[:40]
            spec = self.controller.spec
            turn.chat_id = self.history.new_chat(title, spec.name if spec else "")
            turn.created = True
            self._chat_id = turn.chat_id
            self.refresh_chats()
            self.chatChanged.emit(turn.chat_id)
        self._pending, self._error = turn, ""
        self._set_status(self.tr("回答を生成中…（Esc で停止）"))
        self.render()
        self._update_buttons()
        return True

    # -- from the job ------------------------------------------------------------------------
    def _piece(self, text: str) -> None:
        if self._pending is not None:
            self._pending.text += text
            if not self._render_timer.isActive():
                self._render_timer.start()

    def _finished(self, outcome: JobOutcome) -> None:
        turn = self._pending
        if turn is None or turn.chat_id is None:
            return
        text = outcome.result if isinstance(outcome.result, str) else turn.text
        reason = outcome.finish_reason
        self._pending = None
        if reason == "cancelled" and not text.strip():
            self._give_back(turn)
            self._set_status(self.tr("停止しました。"))
        else:
            turn.store(self.history, text)
            note = {"cancelled": self.tr("（停止）"), "length": self.tr("（最大長で打ち切り）")}
            message = self.tr("回答しました（{0:.1f} 秒）").format(outcome.seconds)
            self._set_status(message + note.get(str(reason), ""))
        self._save_draft()
        self._after_turn(turn)

    def _failed(self, exc: BaseException) -> None:
        turn = self._pending
        if turn is None:
            return
        self._pending = None
        self._give_back(turn)
        self._error = error_text(exc, self.controller.language)
        self._set_status(self.tr("回答を生成できませんでした。"), error=True)
        self._after_turn(turn)

    def _give_back(self, turn: ChatTurn) -> None:
        """Put an unanswered question back into the boxes, ahead of anything typed since."""
        if turn.regenerate:
            return
        for box, typed in zip((self.input, self.choices), turn.typed, strict=True):
            now = box.toPlainText()
            if typed and typed.strip() != now.strip():
                box.setPlainText(f"{typed}\n\n{now}" if now.strip() else typed)
        if turn.choices:
            self.choice_mode.setChecked(True)
        if turn.created and turn.chat_id is not None:
            self.history.delete_chat(turn.chat_id)
            if self._chat_id == turn.chat_id:
                self._chat_id = None

    def _after_turn(self, turn: ChatTurn) -> None:
        if self._chat_id == turn.chat_id or self._chat_id is None:
            self._reload()
        self.refresh_chats()

    # -- transcript -------------------------------------------------------------------------
    def render(self) -> None:
        """Draw the transcript: the stored turns, the one being answered, an error."""
        messages = self._messages
        turn = self._pending
        if turn is not None and turn.chat_id == self._chat_id:
            messages = turn.drawn(messages)
        bar = self.transcript.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 8
        position = bar.value()
        self.transcript.setHtml(transcript_html(messages, self._error))
        bar.setValue(bar.maximum() if at_end else position)

    # -- export -----------------------------------------------------------------------------
    def _title(self, chat_id: int) -> str:
        return next((t for i, t, _ in self.history.chats() if i == chat_id), "")

    def export_markdown(self, chat_id: int, path: str | Path) -> Path:
        """Write a conversation as Markdown (atomically: a temporary file, then a rename)."""
        path = Path(path)
        messages = [{"role": m.role, "content": m.content} for m in self.history.messages(chat_id)]
        title = self._title(chat_id) or self.tr("医療QA")
        replace_atomically(path, conversation_markdown(title, messages, self.disclaimer.text()))
        return path

    def _export_dialog(self) -> None:
        if self._chat_id is None:
            return
        name = re.sub(r'[\\/:*?"<>|\s]+', "_", self._title(self._chat_id))[:40] or "chat"
        path, _ = QFileDialog.getSaveFileName(
            self, self.tr("Markdown に書き出し"), f"{name}.md", "Markdown (*.md)"
        )
        if not path:
            return
        try:
            self.export_markdown(self._chat_id, path)
        except OSError as exc:
            self._set_status(self.tr("書き出せませんでした：") + f"{path} ({exc})", error=True)
            return
        self._set_status(self.tr("書き出しました：") + path)

    # -- state ------------------------------------------------------------------------------
    def _update_buttons(self, *_: object) -> None:
        idle = self._pending is None and not self.controller.busy
        has_question = any(m["role"] == "user" for m in self._messages)
        self.send_button.setEnabled(self._pending is None)
        self.stop_button.setEnabled(self._pending is not None)
        self.regenerate_button.setEnabled(idle and has_question)
        self.delete_button.setEnabled(self._chat_id is not None and self._pending is None)
        self.export_button.setEnabled(self._chat_id is not None)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #b3261e" if error else "color: gray")
        self.status.setText(text)

    def _save_draft(self) -> None:
        boxes = (self.input.toPlainText(), self.choices.toPlainText())
        draft = crash_draft(boxes, self.choice_mode.isChecked(), self._pending)
        if draft is None:
            self.history.discard_draft(DRAFT_KEY)
        else:
            self.history.save_draft(DRAFT_KEY, draft)
