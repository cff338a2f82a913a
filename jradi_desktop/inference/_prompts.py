"""Prompts: the JRadiEvo report prompt, the QA chat, multiple-choice questions; and reading the
replies (report sections 所見 / 印象, chosen letters and their explanation)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jradi_desktop.inference._choices import parse_answer_letters

# JRadiEvo (Baba et al., arXiv 2411.09933): the instruction given with the image, verbatim.
REPORT_PROMPT = (
    "あなたは優秀な放射線科医です。このレントゲン写真を見て、所見文を書いてください。"
    "肺・心臓・骨に異常があるかに注目して読影してください。日本語で書いてください。"
)
INDICATION_LABEL = "臨床情報："

QA_SYSTEM_PROMPT = (
    "あなたは日本の医療に詳しい、経験豊富な医師です。医療従事者からの質問に、日本語で正確かつ"
    "簡潔に答えてください。根拠が不確かなことは推測であると明記し、必要に応じてガイドラインや"
    "専門医への確認を勧めてください。"
)

CHOICE_INSTRUCTION = (
    "次の問題に答えてください。選択肢から正しいものを選び、1 行目に「答え：」に続けて選んだ"
    "選択肢の記号だけを書いてください（複数選ぶ場合は a,c のようにカンマで区切ります）。"
    "2 行目からは「理由：」に続けて、その根拠を説明してください。"
)
MAX_CHOICES = 26


def report_prompt(indication: str = "") -> str:
    """The report instruction; a non-empty clinical indication is appended on its own line
    (``臨床情報：…``). Without one the text is exactly the paper's."""
    indication = " ".join((indication or "").split())
    return f"{REPORT_PROMPT}\n{INDICATION_LABEL}{indication}" if indication else REPORT_PROMPT


def build_report_messages(indication: str = "") -> list[dict[str, Any]]:
    """One user turn: the image, then the report instruction. No system message: the Bunny
    template supplies the Vicuna system line JRadiEvo was trained with."""
    return [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": report_prompt(indication)}],
        }
    ]


def build_chat_messages(
    history: Sequence[Mapping[str, str]], question: str, system: str = QA_SYSTEM_PROMPT
) -> list[dict[str, Any]]:
    """The QA chat: the system prompt, the earlier turns (``{"role": "user"|"assistant",
    "content": ...}``, oldest first) and the new question."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for turn in history:
        if turn.get("role") not in ("user", "assistant"):
            raise ValueError(f"history turns must be 'user' or 'assistant', got {turn!r}")
        messages.append({"role": turn["role"], "content": turn["content"]})
    messages.append({"role": "user", "content": question})
    return messages


def choice_letter(index: int) -> str:
    """``0`` → ``"a"``."""
    return chr(ord("a") + index)


def build_choice_messages(
    question: str, choices: Sequence[str], system: str = QA_SYSTEM_PROMPT
) -> list[dict[str, Any]]:
    """A multiple-choice question: choices labelled ``a.``, ``b.``, … one per line, and the
    request to answer with the letters first, then the reasoning."""
    if not 2 <= len(choices) <= MAX_CHOICES:
        raise ValueError(f"a question needs 2 to {MAX_CHOICES} choices, got {len(choices)}")
    listed = "\n".join(f"{choice_letter(i)}. {text}" for i, text in enumerate(choices))
    text = f"{CHOICE_INSTRUCTION}\n\n問題：{question.strip()}\n\n選択肢：\n{listed}"
    return build_chat_messages((), text, system)


@dataclass(frozen=True)
class ChoiceAnswer:
    """Letters chosen (sorted, within the question's choices; empty if none could be read) and
    the model's explanation."""

    letters: tuple[str, ...]
    explanation: str


_REASON = re.compile(r"^\s*(?:理由|解説|根拠)\s*[:：]\s*")


def parse_choice_answer(text: str, n_choices: int) -> ChoiceAnswer:
    """Read a reply to :func:`build_choice_messages`: the letters from the first line that
    names valid ones (answer-word lines anywhere also count), the explanation from the rest."""
    valid = {choice_letter(i) for i in range(n_choices)}
    lines = (text or "").strip().splitlines()
    for index, line in enumerate(lines):
        letters = parse_answer_letters(line)
        if letters and set(letters) <= valid:
            rest = "\n".join(lines[index + 1 :]).strip()
            return ChoiceAnswer(letters, _REASON.sub("", rest, count=1).strip())
    return ChoiceAnswer((), (text or "").strip())


@dataclass(frozen=True)
class ReportSections:
    """A generated report split into 所見 (findings) and 印象 (impression); ``text`` is the
    whole reply."""

    findings: str
    impression: str
    text: str


_FINDINGS_MARK = re.compile(r"【所見】|所見\s*[：:]")
_IMPRESSION_MARK = re.compile(r"【印象】|印象\s*[：:]|診断\s*[：:]")


def split_report(text: str) -> ReportSections:
    """Split a report at its section markers (``所見：``/``所見:``/``【所見】`` and
    ``印象：``/``印象:``/``【印象】``/``診断：``; the first of each counts).

    Each section runs from its marker to the other marker or the end. Without a findings
    marker, the text before the impression marker (or all of it, when there is no marker at
    all) is the findings; with one, text before the first marker is preamble and dropped.
    """
    text = text or ""
    found = _FINDINGS_MARK.search(text)
    impression = _IMPRESSION_MARK.search(text)
    if found is None and impression is None:
        return ReportSections(text.strip(), "", text)
    if found is None:
        return ReportSections(
            text[: impression.start()].strip(), text[impression.end() :].strip(), text
        )
    if impression is None:
        return ReportSections(text[found.end() :].strip(), "", text)
    if found.start() < impression.start():
        findings = text[found.end() : impression.start()]
        impression_text = text[impression.end() :]
    else:
        impression_text = text[impression.end() : found.start()]
        findings = text[found.end() :]
    return ReportSections(findings.strip(), impression_text.strip(), text)
