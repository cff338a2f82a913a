"""IgakuQA-format question folders (Kasai et al. 2023; REFERENCE.md §4), read from a path the
user gives: the exam data has no licence and is never bundled.

A folder holds ``{year}/{exam}-{block}.jsonl`` files, one question per line (``problem_id``,
``problem_text``, ``choices``, ``text_only``, ``answer``, ``points``), beside side files
``*_metadata.jsonl`` (``category``, ``kinki``, ``human_accuracy``, ...) joined by
``problem_id``; ``*_translate.jsonl`` (English) is not read. A bad line is reported with its
file and line number and the rest loads.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.data._errors import DataError
from engine.data._jsonl import DataProblem, jsonl_files, nothing_loaded, read_jsonl

SIDE_FILES = ("_metadata.jsonl", "_translate.jsonl")
METADATA_SUFFIX = "_metadata.jsonl"


def choice_letter(index: int) -> str:
    """``0`` → ``"a"``."""
    return chr(ord("a") + index)


@dataclass(frozen=True)
class QAQuestion:
    """One exam question. ``answer``: gold letters (lower case, sorted), or for a question
    without choices the gold answer strings; ``metadata``: the side file's record, if any."""

    problem_id: str
    problem_text: str
    choices: tuple[str, ...]
    answer: tuple[str, ...]
    text_only: bool = True
    points: int = 1
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def answer_text(self) -> str:
        """The gold answer as text: the correct choices' texts joined with ',' (what exact
        match compares with), or the numeric answer."""
        if not self.choices:
            return ",".join(self.answer)
        return ",".join(self.choices[ord(letter) - ord("a")] for letter in self.answer)


@dataclass(frozen=True)
class QADataset:
    """The questions that loaded (in file order), the lines that did not, and the files."""

    root: Path
    questions: tuple[QAQuestion, ...]
    problems: tuple[DataProblem, ...]
    files: tuple[Path, ...]

    def __len__(self) -> int:
        return len(self.questions)

    def by_id(self) -> dict[str, QAQuestion]:
        return {q.problem_id: q for q in self.questions}

    def select(
        self, text_only: bool | None = True, n_choices: Collection[int] | None = (5,)
    ) -> tuple[QAQuestion, ...]:
        """The questions to evaluate: ``text_only=True`` keeps those that need no image
        (None: all); ``n_choices`` keeps those with that many choices (None: all; 0 selects
        the numeric questions). The defaults are the JMedLoRA harness's (text only, 5)."""
        return tuple(
            q
            for q in self.questions
            if (text_only is None or q.text_only == text_only)
            and (n_choices is None or len(q.choices) in n_choices)
        )


def _question(record: dict[str, Any]) -> tuple[QAQuestion | None, str]:
    """The question in ``record``, or ``(None, why not)``."""
    pid = record.get("problem_id")
    if not isinstance(pid, str) or not pid.strip():
        return None, "has no 'problem_id' string"
    text = record.get("problem_text")
    if not isinstance(text, str) or not text.strip():
        return None, f"{pid}: has no 'problem_text' string"
    choices = record.get("choices", [])
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        return None, f"{pid}: 'choices' must be a list of strings"
    text_only = record.get("text_only", True)
    if not isinstance(text_only, bool):
        return None, f"{pid}: 'text_only' must be true or false, got {text_only!r}"
    answer = record.get("answer")
    if isinstance(answer, str):
        answer = answer.split(",")
    if not isinstance(answer, list) or not answer or not all(isinstance(a, str) for a in answer):
        return None, f"{pid}: 'answer' must be a non-empty list of strings, got {answer!r}"
    answer = [a.strip() for a in answer]
    if choices:
        valid = [choice_letter(i) for i in range(len(choices))]
        answer = [a.lower() for a in answer]
        bad = [a for a in answer if a not in valid]
        if bad:
            return None, (
                f"{pid}: answer {bad} not among the {len(choices)} choices ({','.join(valid)})"
            )
        answer = sorted(answer)
    elif not all(answer):
        return None, f"{pid}: 'answer' has an empty entry"
    points = record.get("points", "1")
    try:
        points = int(points)
    except (TypeError, ValueError):
        return None, f'{pid}: \'points\' must be a whole number ("1", "3"), got {points!r}'
    return QAQuestion(pid.strip(), text, tuple(choices), tuple(answer), text_only, points), ""


def _metadata(path: Path, problems: list[DataProblem]) -> dict[str, dict[str, Any]]:
    side = path.with_name(path.name.removesuffix(".jsonl") + METADATA_SUFFIX)
    if not side.is_file():
        return {}
    found: dict[str, dict[str, Any]] = {}
    for number, record in read_jsonl(side, problems):
        pid = record.get("problem_id")
        if not isinstance(pid, str) or not pid.strip():
            problems.append(DataProblem(side, number, "has no 'problem_id' string"))
            continue
        found[pid.strip()] = {k: v for k, v in record.items() if k != "problem_id"}
    return found


def load_igakuqa(path: str | Path) -> QADataset:
    """Read an IgakuQA-format folder (every question file under it) or one question file.

    Raises :class:`DataError` when the path does not exist or no question loads at all.
    """
    root = Path(path).expanduser()
    files = jsonl_files([root], skip_suffixes=SIDE_FILES)
    questions: list[QAQuestion] = []
    problems: list[DataProblem] = []
    seen: dict[str, str] = {}
    for file in files:
        metadata = _metadata(file, problems)
        for number, record in read_jsonl(file, problems):
            question, why = _question(record)
            if question is None:
                problems.append(DataProblem(file, number, why))
                continue
            if question.problem_id in seen:
                problems.append(
                    DataProblem(
                        file,
                        number,
                        f"{question.problem_id}: already read at {seen[question.problem_id]}; "
                        "this line is skipped",
                    )
                )
                continue
            seen[question.problem_id] = f"{file}:{number}"
            questions.append(
                replace(
                    question,
                    metadata=metadata.get(question.problem_id, {}),
                    source=f"{file}:{number}",
                )
            )
    if not questions:
        raise DataError(nothing_loaded(f"IgakuQA questions in {root}", problems))
    return QADataset(root, tuple(questions), tuple(problems), tuple(files))
