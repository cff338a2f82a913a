"""Plain text and Markdown renderings of a :class:`ReportDocument` (UTF-8, Japanese headings)."""

from __future__ import annotations

import os
from pathlib import Path

from jradi_desktop.reports._atomic import write_bytes_atomic
from jradi_desktop.reports._document import (
    AI_NOTICE_EN,
    AI_NOTICE_JA,
    EMPTY_SECTION,
    SECTIONS,
    TITLE_JA,
    WARNING_EN,
    WARNING_JA,
    ReportDocument,
)


def _sections(doc: ReportDocument) -> list[tuple[str, str]]:
    """(heading, text) in order; the clinical information only when there is some."""
    found = []
    for key, heading, _ in SECTIONS:
        text = doc.section_text(key)
        if key == "indication" and not text:
            continue
        found.append((heading, text or EMPTY_SECTION))
    return found


def to_text(doc: ReportDocument) -> str:
    """The report as plain text: title, AI-draft notice and warnings, patient/study block,
    sections."""
    lines = [TITLE_JA, "=" * 40, f"※ {AI_NOTICE_JA}", f"※ {AI_NOTICE_EN}"]
    for note in doc.warnings:
        lines += [f"{WARNING_JA}{note.ja}", f"{WARNING_EN}{note.en}"]
    lines.append("")
    lines += [f"{label}: {value}" for label, value in doc.info_rows()]
    for heading, text in _sections(doc):
        lines += ["", f"【{heading}】", text]
    return "\n".join(lines) + "\n"


def _md_cell(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_block(text: str) -> str:
    """Keep the author's line breaks: a hard break (two spaces) on every non-blank line that
    continues a paragraph."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        follows = i + 1 < len(lines) and lines[i + 1].strip()
        out.append(f"{line}  " if line.strip() and follows else line)
    return "\n".join(out)


def to_markdown(doc: ReportDocument) -> str:
    """The report as Markdown: ``#`` title, the notice and warnings as quotes, a table,
    ``##`` sections."""
    parts = [
        f"# {TITLE_JA}",
        f"> **{AI_NOTICE_JA}**  \n> {AI_NOTICE_EN}",
        *(f"> **{WARNING_JA}{note.ja}**  \n> {WARNING_EN}{note.en}" for note in doc.warnings),
    ]
    rows = doc.info_rows()
    if rows:
        table = ["| 項目 | 内容 |", "| --- | --- |"]
        table += [f"| {label} | {_md_cell(value)} |" for label, value in rows]
        parts.append("\n".join(table))
    parts += [f"## {heading}\n\n{_md_block(text)}" for heading, text in _sections(doc)]
    return "\n\n".join(parts) + "\n"


def write_text(doc: ReportDocument, path: str | os.PathLike[str]) -> Path:
    """Write :func:`to_text` to ``path`` (UTF-8, atomically); raises ReportExportError."""
    return write_bytes_atomic(path, to_text(doc).encode("utf-8"))


def write_markdown(doc: ReportDocument, path: str | os.PathLike[str]) -> Path:
    """Write :func:`to_markdown` to ``path`` (UTF-8, atomically); raises ReportExportError."""
    return write_bytes_atomic(path, to_markdown(doc).encode("utf-8"))
