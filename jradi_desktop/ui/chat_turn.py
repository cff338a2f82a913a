"""A question being answered in the QA chat: what was asked, the answer so far, and how the
finished turn is written to the history (question and answer together, never half)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jradi_desktop.store import History
from jradi_desktop.ui.chat_text import format_question
from jradi_desktop.ui.generation import GenerationJob


@dataclass
class ChatTurn:
    """A question being answered."""

    chat_id: int | None
    question: str
    choices: list[str] | None
    regenerate: bool = False
    created: bool = False  # the chat was created for this turn
    text: str = ""
    typed: tuple[str, str] = ("", "")  # the input and choices boxes when it was sent
    history: list[dict[str, str]] = field(default_factory=list)
    job: GenerationJob | None = None

    @property
    def content(self) -> str:
        """The question as stored and shown (with its lettered choices)."""
        return format_question(self.question, self.choices)

    def store(self, history: History, answer: str) -> None:
        """Write the answered turn; a regenerated answer replaces the last one."""
        assert self.chat_id is not None
        stored = history.messages(self.chat_id)
        if self.regenerate and stored and stored[-1].role == "assistant":
            history.replace_last_message(self.chat_id, "assistant", answer)
            return
        if not self.regenerate:
            history.add_message(self.chat_id, "user", self.content)
        history.add_message(self.chat_id, "assistant", answer)

    def drawn(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        """``messages`` with this turn as it streams: its question and the answer so far."""
        messages = list(messages)
        if self.regenerate:
            while messages and messages[-1]["role"] == "assistant":
                messages.pop()
        else:
            messages.append({"role": "user", "content": self.content})
        messages.append({"role": "assistant", "content": self.text, "streaming": "1"})
        return messages


def crash_draft(
    boxes: tuple[str, str], choice_mode: bool, turn: ChatTurn | None
) -> dict[str, Any] | None:
    """The chat's crash draft: the input and choices ``boxes`` after the question being
    answered (which goes back into them if its answer fails); None when there is nothing."""
    if turn is not None and not turn.regenerate:
        boxes = tuple(f"{a}\n\n{b}".strip() for a, b in zip(turn.typed, boxes, strict=True))
    if not any(text.strip() for text in boxes):
        return None
    mode = choice_mode or bool(turn and turn.choices)
    return {"question": boxes[0], "choices": boxes[1], "choice_mode": mode}
