"""The chat's text, without widgets: the transcript as safe HTML (model text is escaped, then a
little Markdown is drawn), the stored form of multiple-choice questions, and the Markdown
export of a conversation.

Labels are translated in the ``ChatPanel`` context, so they switch language with the panel.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from PySide6.QtCore import QCoreApplication

from jradi_desktop.inference import parse_choice_answer

MIN_CHOICES, MAX_CHOICES = 2, 8
CHOICES_MARK = "\n\n選択肢：\n"  # between a stored question and its lettered choices
_CHOICE_LINE = re.compile(r"^([a-z])\. (.*)$")
_INLINE = [
    (re.compile(r"\*\*(.+?)\*\*"), r"<b>\1</b>"),
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
]
_HEADING = re.compile(r"^#{1,6}\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*・]\s+(.*)$")
_BREAK_BEFORE_BLOCK = re.compile(r"<br>(?=<(?:ul|pre)>)")
# (background, label colour) of a turn
USER_COLORS = ("#e8f0fe", "#1a4f9c")
AI_COLORS = ("#f3f4f6", "#5f6368")
ERROR_COLORS = ("#fdecea", "#b3261e")


def letter(index: int) -> str:
    return chr(ord("a") + index)


def markdownish(text: str) -> str:
    """Model text as safe HTML: everything escaped first, then **bold**, `code`, # headings,
    bullet lists and ``` fences drawn. No tag or link from the text survives."""
    out: list[str] = []
    code: list[str] | None = None
    items: list[str] = []

    def close_list() -> None:
        if items:
            out.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        if line.strip().startswith("```"):
            close_list()
            if code is not None:
                out.append("<pre>" + html.escape("\n".join(code)) + "</pre>")
            code = None if code is not None else []
            continue
        if code is not None:
            code.append(line)
            continue
        escaped = html.escape(line)
        for pattern, replacement in _INLINE:
            escaped = pattern.sub(replacement, escaped)
        if bullet := _BULLET.match(escaped):
            items.append(bullet.group(1))
            continue
        close_list()
        if heading := _HEADING.match(escaped):
            escaped = f"<b style='font-size:large'>{heading.group(1)}</b>"
        out.append(escaped.replace("  ", " &nbsp;") + "<br>")  # keep runs of spaces
    close_list()
    if code is not None:
        out.append("<pre>" + html.escape("\n".join(code)) + "</pre>")
    return _BREAK_BEFORE_BLOCK.sub("", "".join(out)).removesuffix("<br>")


def format_question(question: str, choices: Sequence[str] | None) -> str:
    """The stored form of a question; a multiple-choice one keeps its lettered choices."""
    if not choices:
        return question
    listed = "\n".join(f"{letter(i)}. {c}" for i, c in enumerate(choices))
    return f"{question}{CHOICES_MARK}{listed}"


def split_question(content: str) -> tuple[str, list[str] | None]:
    """Inverse of :func:`format_question`: (question, choices or None)."""
    question, mark, rest = content.rpartition(CHOICES_MARK)
    found = [_CHOICE_LINE.match(line) for line in rest.splitlines()] if mark else []
    if len(found) < MIN_CHOICES or not all(found):
        return content, None
    return question, [m.group(2) for m in found if m]


def _block(label: str, body: str, colors: tuple[str, str], top: int = 8) -> str:
    background, colour = colors
    return (
        f"<table width='100%' cellpadding='8' bgcolor='{background}' style='margin-top:{top}px'>"
        f"<tr><td><b style='color:{colour}'>{html.escape(label)}</b><br>{body}</td></tr></table>"
    )


def _answer_body(text: str, choices: Sequence[str]) -> str:
    """A finished multiple-choice reply: the letters read from it, then its reasoning."""
    answer = parse_choice_answer(text, len(choices))
    if answer.letters:
        head = QCoreApplication.translate("ChatPanel", "答え：") + ", ".join(answer.letters)
        picked = "".join(
            f"<br>{x}. {html.escape(choices[ord(x) - ord('a')])}" for x in answer.letters
        )
    else:
        head = QCoreApplication.translate("ChatPanel", "答え：（回答から読み取れませんでした）")
        picked = ""
    reason = ""
    if answer.explanation:
        label = html.escape(QCoreApplication.translate("ChatPanel", "理由"))
        reason = f"<b>{label}</b><br>{markdownish(answer.explanation)}"
    return (
        "<table width='100%' cellpadding='6' bgcolor='#e6f4ea' style='margin-bottom:4px'><tr><td>"
        f"<span style='font-size:large; color:#0d652d'><b>{html.escape(head)}</b></span>"
        f"{picked}</td></tr></table>{reason}"
    )


def transcript_html(messages: Sequence[Mapping[str, str]], error: str = "") -> str:
    """The transcript. A message with a ``streaming`` key is the answer being written."""
    parts: list[str] = []
    choices: list[str] | None = None
    for message in messages:
        if message["role"] == "user":
            question, choices = split_question(message["content"])
            body = markdownish(question)
            if choices:
                body += "<br>" + "".join(
                    f"<br><b>{letter(i)}.</b> {html.escape(c)}" for i, c in enumerate(choices)
                )
            you = QCoreApplication.translate("ChatPanel", "あなた")
            parts.append(_block(you, body, USER_COLORS, top=12))
            continue
        text, streaming = message["content"], "streaming" in message
        if choices and text and not streaming:
            body = _answer_body(text, choices)
        else:
            body = markdownish(text) if text else "…"
        label = (
            QCoreApplication.translate("ChatPanel", "AI（生成中…）")
            if streaming
            else QCoreApplication.translate("ChatPanel", "AI")
        )
        parts.append(_block(label, body, AI_COLORS, top=4))
    if error:
        kept = QCoreApplication.translate("ChatPanel", "入力した質問は入力欄に残っています。")
        body = f"{markdownish(error)}<br><span style='color:#555'>{html.escape(kept)}</span>"
        parts.append(_block(QCoreApplication.translate("ChatPanel", "エラー"), body, ERROR_COLORS))
    return "".join(parts)


def conversation_markdown(
    title: str, messages: Sequence[Mapping[str, str]], disclaimer: str
) -> str:
    """A conversation as Markdown: title, disclaimer, then each question and answer."""
    question_label = QCoreApplication.translate("ChatPanel", "質問")
    answer_label = QCoreApplication.translate("ChatPanel", "回答")
    exported = QCoreApplication.translate("ChatPanel", "書き出し日時")
    now = f"{datetime.now():%Y-%m-%d %H:%M}"
    lines = [f"# {title}", "", f"> {disclaimer}", "", f"{exported}: {now}"]
    for message in messages:
        if message["role"] == "user":
            question, choices = split_question(message["content"])
            lines += ["", f"## {question_label}", "", question]
            if choices:
                lines += [""] + [f"- {letter(i)}. {c}" for i, c in enumerate(choices)]
        else:
            lines += ["", f"## {answer_label}", "", message["content"].strip()]
    return "\n".join(lines) + "\n"
