"""Predictions files (CSV or JSONL of reference/prediction pairs) and their evaluation."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Literal

from engine._text import read_utf8
from engine.metrics._errors import MetricsInputError
from engine.metrics._report import evaluate_reports, extract_findings, extract_impression

Section = Literal["findings", "impression", "full"]
_READERS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def _cell(path: Path, where: str, column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise MetricsInputError(
        f"{path}: {where}: field {column!r} must be a string, got {type(value).__name__}"
    )


def _read_csv(path: Path, text: str, columns: tuple[str, str]) -> list[tuple[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    for column in columns:
        if column not in header:
            raise MetricsInputError(
                f"{path}: row 0 (the header, line 1) has no column {column!r}; "
                f"columns are: {', '.join(header) or '(none)'}"
            )
    pairs: list[tuple[str, str]] = []
    try:
        for row_number, row in enumerate(reader, start=1):
            where = f"row {row_number} (line {reader.line_num})"
            if None in row or any(row[column] is None for column in columns):
                raise MetricsInputError(
                    f"{path}: {where} does not have the header's {len(header)} fields"
                )
            ref, pred = (_cell(path, where, c, row[c]) for c in columns)
            pairs.append((ref, pred))
    except csv.Error as exc:
        raise MetricsInputError(f"{path}: line {reader.line_num}: malformed CSV ({exc})") from exc
    return pairs


def _read_jsonl(path: Path, text: str, columns: tuple[str, str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {line_number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise MetricsInputError(
                f"{path}: {where} is not valid JSON ({exc.msg} at column {exc.colno}): "
                f"{line[:80]!r}"
            ) from exc
        if not isinstance(record, dict):
            raise MetricsInputError(
                f"{path}: {where} must be a JSON object, got {type(record).__name__}"
            )
        for column in columns:
            if column not in record:
                raise MetricsInputError(
                    f"{path}: {where} has no field {column!r}; "
                    f"fields are: {', '.join(map(str, record)) or '(none)'}"
                )
        ref, pred = (_cell(path, where, c, record[c]) for c in columns)
        pairs.append((ref, pred))
    return pairs


def read_predictions_file(
    path: str | os.PathLike[str], ref_col: str = "ja_text", pred_col: str = "preds"
) -> tuple[list[str], list[str]]:
    """References and predictions from a ``.csv`` or ``.jsonl`` file (UTF-8, BOM allowed).

    Empty or null cells read as "". Raises :class:`MetricsInputError` naming the file, the
    row or line, and the missing column or bad line.
    """
    path = Path(path)
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise MetricsInputError(
            f"{path}: unsupported file type {path.suffix!r}; use one of "
            f"{', '.join(sorted(_READERS))}"
        )
    text = read_utf8(path, MetricsInputError, "predictions file")
    reader = _read_csv if kind == "csv" else _read_jsonl
    pairs = reader(path, text, (ref_col, pred_col))
    return [ref for ref, _ in pairs], [pred for _, pred in pairs]


def evaluate_predictions_file(
    path: str | os.PathLike[str],
    ref_col: str = "ja_text",
    pred_col: str = "preds",
    char_bleu: bool = False,
    section: Section = "findings",
) -> dict:
    """Evaluate a predictions file: :func:`evaluate_reports` plus ``"file"``.

    ``section`` is taken from each reference before scoring: ``"findings"`` (the default, as
    JRadiEvo compares the generated text with the reference's 所見 part; a reference without
    a 所見 marker is used whole), ``"impression"`` or ``"full"``. Predictions are used as is.
    """
    references, predictions = read_predictions_file(path, ref_col, pred_col)
    if section == "findings":
        references = [extract_findings(text) for text in references]
    elif section == "impression":
        references = [extract_impression(text) for text in references]
    elif section != "full":
        raise ValueError(f"section must be 'findings', 'impression' or 'full', got {section!r}")
    if not references:
        raise MetricsInputError(f"{path}: no rows to evaluate")
    try:
        result = evaluate_reports(references, predictions, char_bleu=char_bleu)
    except MetricsInputError as exc:
        raise MetricsInputError(f"{path}: {exc}") from exc
    result["file"] = str(path)
    return result
