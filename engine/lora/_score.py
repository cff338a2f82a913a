"""Scoring predictions against IgakuQA-format questions with ``engine.metrics``.

A predictions file is JSON Lines with ``problem_id`` and ``response`` (the answer text as
read after ``### 応答：``; null or missing reads as ""); other fields (``full_response``,
``prompt_format``, ...) are kept by ``eval-qa`` and ignored here. Metrics: accuracy by
Gestalt argmax (top-k choices for k answers), exact match, mean Gestalt against the gold
text, the official IgakuQA letter-set accuracy and points, overall, by exam year and by block.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.data import DataProblem, QADataset, load_igakuqa, read_jsonl
from engine.lora._errors import LoraError
from engine.metrics import aggregate, score_question
from jradi_desktop.contract import QAMetrics


def read_predictions(path: str | Path) -> tuple[list[dict[str, Any]], list[DataProblem]]:
    """The prediction records of a JSONL file and the lines that did not load."""
    path = Path(path)
    if not path.is_file():
        raise LoraError(f"{path}: predictions file not found.")
    problems: list[DataProblem] = []
    records = []
    for number, record in read_jsonl(path, problems):
        pid, response = record.get("problem_id"), record.get("response")
        if not isinstance(pid, str) or not pid.strip():
            problems.append(DataProblem(path, number, "has no 'problem_id' string"))
        elif response is not None and not isinstance(response, str):
            problems.append(
                DataProblem(path, number, f"{pid}: 'response' must be a string or null")
            )
        else:
            records.append({**record, "problem_id": pid.strip(), "response": response or ""})
    return records, problems


def _common(records: Sequence[Mapping[str, Any]], key: str) -> Any:
    values = {repr(r.get(key)) for r in records}
    return records[0].get(key) if len(values) == 1 else None


def score_records(
    dataset: QADataset,
    records: Iterable[Mapping[str, Any]],
    problems: Sequence[DataProblem | str] = (),
) -> QAMetrics:
    """Metrics of prediction records (``problem_id``, ``response``) against ``dataset``.

    Records naming a question not in the dataset, and repeats of a question, are listed
    under ``problems`` and not scored; ``unanswered`` counts the dataset's questions that have
    no prediction (e.g. those an evaluation filtered out).
    """
    questions = dataset.by_id()
    notes = [str(p) for p in problems]
    scores, ids, used, seen = [], [], [], set()
    for record in records:
        pid = record["problem_id"]
        question = questions.get(pid)
        if question is None:
            notes.append(f"{pid}: not a question of {dataset.root}; not scored")
            continue
        if pid in seen:
            notes.append(f"{pid}: predicted more than once; the first is scored")
            continue
        scores.append(
            score_question(
                record.get("response") or "",
                question.choices,
                question.answer,
                question.points,
                problem_id=pid,
            )
        )
        ids.append(pid)
        seen.add(pid)
        used.append(record)
    if not scores:
        detail = "; ".join(notes[:5]) or "the predictions are empty"
        raise LoraError(f"no prediction matches a question of {dataset.root} ({detail}).")
    metrics = QAMetrics.from_data(aggregate(scores, ids))
    assert metrics is not None  # aggregate() writes every field QAMetrics requires
    return replace(
        metrics,
        unanswered=len(questions) - len(ids),
        prompt_format=_common(used, "prompt_format"),
        shots=_common(used, "shots"),
        problems=notes,
    )


def score_predictions(dataset: str | Path | QADataset, predictions: str | Path) -> QAMetrics:
    """``jradi-engine score-qa``: read both files and score (see :func:`score_records`)."""
    data = dataset if isinstance(dataset, QADataset) else load_igakuqa(dataset)
    records, problems = read_predictions(predictions)
    result = score_records(data, records, [*data.problems, *problems])
    return replace(result, dataset=str(data.root), predictions=str(predictions))
